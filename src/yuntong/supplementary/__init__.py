"""Supplementary services (3GPP TS 22.081/22.082/22.088) on Yuntong's own network."""
