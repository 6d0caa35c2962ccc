"""Imports every domain's tables so metadata (Alembic, tests) sees them all."""

from yuntong.accounts.models import AuditEvent, LoginSession, Organisation, User
from yuntong.billing.models import (
    BillingAccount,
    Dispute,
    DisputeEvent,
    LedgerEntry,
    Order,
    Payment,
    Product,
    ProductPrice,
    Statement,
    StatementLine,
    Subscription,
    UsageRecord,
)
from yuntong.calls.models import CallHold, CallQualityReport, CallRecord
from yuntong.cluster.models import JobLease, Node
from yuntong.conferences.models import Conference, ConferenceLeg
from yuntong.contacts.models import Block, Contact
from yuntong.core.changes import CacheChange
from yuntong.core.db import Base
from yuntong.meetings.models import (
    Meeting,
    MeetingAttendance,
    MeetingChatMessage,
    MeetingInvitation,
    MeetingRecording,
)
from yuntong.notifications.models import Notice
from yuntong.numbers.models import (
    NumberBlock,
    NumberEvent,
    NumberTier,
    PhoneNumber,
    PortOutCode,
    PortRequest,
    PortRequestEvent,
)
from yuntong.presence.models import DndPause, DndSchedule
from yuntong.sla.models import (
    CompletionAlert,
    CompletionCount,
    CompletionCountedDay,
    Incident,
    IncidentUpdate,
    Maintenance,
    StatusComponent,
    StatusMail,
    StatusSubscriber,
)
from yuntong.supplementary.models import ServiceSettings
from yuntong.support.models import (
    Agent,
    AgentPresence,
    Conversation,
    ConversationEvent,
    Inbox,
    Message,
    UsedSignature,
    Visitor,
)
from yuntong.tariffs.models import OutsideCall, TariffPrefix, TariffTable, TrunkCost
from yuntong.terminals.models import Device, DeviceClaim

__all__ = [
    "Agent",
    "AgentPresence",
    "AuditEvent",
    "Base",
    "BillingAccount",
    "Block",
    "CacheChange",
    "CallHold",
    "CallQualityReport",
    "CallRecord",
    "CompletionAlert",
    "CompletionCount",
    "CompletionCountedDay",
    "Conference",
    "ConferenceLeg",
    "Contact",
    "Conversation",
    "ConversationEvent",
    "Device",
    "DeviceClaim",
    "Dispute",
    "DisputeEvent",
    "DndPause",
    "DndSchedule",
    "Inbox",
    "Incident",
    "IncidentUpdate",
    "JobLease",
    "LedgerEntry",
    "LoginSession",
    "Maintenance",
    "Meeting",
    "MeetingAttendance",
    "MeetingChatMessage",
    "MeetingInvitation",
    "MeetingRecording",
    "Message",
    "Node",
    "Notice",
    "NumberBlock",
    "NumberEvent",
    "NumberTier",
    "Order",
    "Organisation",
    "OutsideCall",
    "Payment",
    "PhoneNumber",
    "PortOutCode",
    "PortRequest",
    "PortRequestEvent",
    "Product",
    "ProductPrice",
    "ServiceSettings",
    "Statement",
    "StatementLine",
    "StatusComponent",
    "StatusMail",
    "StatusSubscriber",
    "Subscription",
    "TariffPrefix",
    "TariffTable",
    "TrunkCost",
    "UsageRecord",
    "UsedSignature",
    "User",
    "Visitor",
]
