"""Errors with a stable machine code and a message in zh-CN and en.

Every API and WebSocket failure is a :class:`YuntongError`; the code never changes once
published, the message is looked up in :mod:`yuntong.core.i18n`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from yuntong.core.i18n import strings, translate

ERRORS: dict[str, tuple[int, str, str]] = {
    # code: (http status, zh-CN, en)
    "bad_request": (400, "请求无效", "Invalid request"),
    "validation_failed": (422, "输入有误，请检查标出的字段", "Some fields are invalid"),
    "not_found": (404, "找不到请求的内容", "Not found"),
    "price_already_corrected": (
        409,
        "该价格版本已被更正（更正编号 {correction_id}），请更正最新的版本",
        "This price version was already corrected (correction {correction_id}); correct the "
        "latest version instead",
    ),
    "method_not_allowed": (405, "该地址不支持此请求方法", "This address does not take that method"),
    "unauthenticated": (401, "请先登录", "Please log in"),
    "forbidden": (403, "没有权限执行此操作", "You are not allowed to do this"),
    "csrf_failed": (403, "页面已过期，请刷新后重试", "The page expired; reload and try again"),
    "rate_limited": (429, "尝试次数过多，请稍后再试", "Too many attempts; try again later"),
    "invalid_credentials": (401, "用户名或密码错误", "Wrong username or password"),
    "account_locked": (
        423,
        "登录失败次数过多，账号已临时锁定，请 {minutes} 分钟后再试",
        "Too many failed logins; the account is locked for {minutes} minutes",
    ),
    "account_pending": (403, "账号正在审核中", "Your registration is awaiting review"),
    "account_rejected": (403, "注册未通过审核：{reason}", "Registration was rejected: {reason}"),
    "account_suspended": (403, "账号已暂停服务", "The account is suspended"),
    "account_terminated": (403, "账号已注销", "The account is terminated"),
    "account_limited": (
        403,
        "账号功能受限：不能发起视频通话，可以发起语音通话",
        "The account is limited: video calls are not allowed, audio calls are",
    ),
    "username_taken": (409, "用户名已被使用", "That username is taken"),
    "email_taken": (409, "该邮箱已注册", "That e-mail address is already registered"),
    "phone_taken": (409, "该手机号已注册", "That phone number is already registered"),
    "uscc_taken": (409, "该统一社会信用代码已注册", "That credit code is already registered"),
    "invalid_transition": (
        409,
        "当前状态（{state}）不允许此操作",
        "Not allowed in the current state ({state})",
    ),
    "wrong_password": (400, "当前密码不正确", "The current password is wrong"),
    "user_not_found": (404, "找不到该用户", "No such user"),
    "contact_exists": (409, "已在联系人中", "Already in your contacts"),
    "contact_self": (400, "不能添加自己为联系人", "You cannot add yourself"),
    "call_not_found": (404, "找不到该通话", "No such call"),
    "call_self": (400, "不能呼叫自己", "You cannot call yourself"),
    "number_unallocated": (404, "您拨打的号码是空号", "The number you dialled is not in service"),
    "number_not_yours": (
        403,
        "只能使用分配给您的号码作为主叫号码",
        "You can only call from a number assigned to you",
    ),
    "already_in_call": (409, "您正在通话中", "You are already in a call"),
    "invalid_sdp": (400, "SDP 无效", "Invalid SDP"),
    "message_too_large": (413, "消息过大", "Message too large"),
    "malformed_message": (400, "消息格式错误", "Malformed message"),
    "unknown_message_type": (400, "未知的消息类型：{type}", "Unknown message type: {type}"),
    "unsupported_version": (400, "不支持的协议版本", "Unsupported protocol version"),
    # media
    "janus_unavailable": (
        503,
        "媒体服务器暂时不可用，请稍后再试",
        "The media server is unavailable; try again later",
    ),
    "janus_error": (
        502,
        "媒体服务器拒绝了请求（错误 {janus_code}）",
        "The media server refused the request (error {janus_code})",
    ),
    "recording_failed": (
        500,
        "录制文件处理失败：{reason}",
        "The recording could not be processed: {reason}",
    ),
    # meetings
    "meeting_not_found": (404, "找不到该会议", "No such meeting"),
    "meeting_ended": (410, "会议已结束", "The meeting has ended"),
    "meeting_not_started": (
        409,
        "会议尚未开始，可在开始前 30 分钟进入",
        "The meeting has not started; you can join 30 minutes before its start",
    ),
    "meeting_passcode_wrong": (403, "会议密码错误", "Wrong meeting passcode"),
    "meeting_passcode_locked": (
        429,
        "密码错误次数过多，该会议已暂停凭密码入会 {minutes} 分钟",
        "Too many wrong passcodes: joining this meeting with a passcode is paused for "
        "{minutes} minutes",
    ),
    "meeting_locked": (423, "会议已锁定，不能再加入", "The meeting is locked"),
    "meeting_full": (409, "会议人数已满", "The meeting is full"),
    "meeting_guests_not_allowed": (
        403,
        "该会议不允许访客加入，请先登录",
        "Guests may not join this meeting; please log in",
    ),
    "meeting_removed": (403, "您已被移出会议，不能再加入", "You were removed from this meeting"),
    "meeting_not_joined": (409, "您尚未进入会议", "You have not joined the meeting"),
    "meeting_forbidden": (403, "只有主持人可以执行此操作", "Only a host may do this"),
    "meeting_feature_off": (403, "该会议未开启此功能：{feature}", "Not enabled here: {feature}"),
    "meeting_unmute_needs_host": (
        403,
        "主持人已将您静音，请举手请主持人解除",
        "The host muted you; raise your hand to ask to unmute",
    ),
    "meeting_ticket_invalid": (
        401,
        "入会凭证无效或已过期",
        "The join ticket is invalid or expired",
    ),
    "meeting_participant_not_found": (404, "找不到该参会人", "No such participant"),
    "meeting_feed_not_found": (404, "找不到该媒体流", "No such stream"),
    "mail_failed": (502, "邮件发送失败：{reason}", "The e-mail could not be sent: {reason}"),
    "chat_rate_limited": (429, "消息发送过于频繁，请稍后再发", "Too many messages; slow down"),
    # billing
    "billing_account_not_found": (404, "找不到该计费账户", "No such billing account"),
    "product_not_found": (404, "找不到该套餐或业务", "No such package or service"),
    "product_code_taken": (409, "该编码已被使用", "That product code is taken"),
    "invalid_rate": (422, "资费无效：{reason}", "Invalid rate: {reason}"),
    "price_change_too_soon": (
        422,
        "价格调整须至少提前 {days} 天公布",
        "A price change must be announced at least {days} days ahead",
    ),
    "credit_limit_out_of_bounds": (
        422,
        "信用额度须在 {low} 元至 {high} 元之间",
        "The credit limit must be between {low} and {high} yuan",
    ),
    "credit_limit_prepaid": (
        409,
        "预付费账户没有信用额度",
        "A prepaid account has no credit limit",
    ),
    "credit_exhausted": (
        402,
        "已超过信用额度，计费业务已暂停；缴费后即可恢复",
        "The credit limit is exceeded, so chargeable services are paused; pay to resume",
    ),
    "balance_exhausted": (
        402,
        "预付费余额不足，请充值后继续使用计费业务",
        "The prepaid balance is used up; top up to use chargeable services",
    ),
    "billing_suspended": (
        402,
        "因欠费已暂停计费业务；缴清欠费 {amount} 元后自动恢复",
        "Chargeable services are suspended for non-payment; paying {amount} yuan lifts it",
    ),
    "billing_held": (
        403,
        "依有权机关要求，服务已暂停",
        "Service is suspended at the request of a competent authority",
    ),
    "billing_terminating": (
        403,
        "账户正在办理销户，计费业务已停止",
        "The account is being terminated; chargeable services are stopped",
    ),
    "billing_terminated": (403, "账户已销户", "The billing account is terminated"),
    "invalid_cycle": (422, "账期格式应为 YYYY-MM", "A cycle looks like YYYY-MM"),
    "cycle_not_ended": (
        409,
        "账期 {cycle} 尚未结束，不能出账",
        "Cycle {cycle} has not ended yet; it cannot be closed",
    ),
    "invalid_amount": (422, "金额无效：{reason}", "Invalid amount: {reason}"),
    "unsupported_currency": (422, "不支持的币种：{currency}", "Unsupported currency: {currency}"),
    "bad_signature": (401, "签名无效", "Invalid signature"),
    "webhook_disabled": (503, "支付通知接口未启用", "The payment webhook is not enabled"),
    "statement_not_found": (404, "找不到该账单", "No such statement"),
    "idempotency_conflict": (
        409,
        "该幂等键已用于另一笔不同的请求",
        "This idempotency key was already used for a different request",
    ),
    "malformed_usage": (422, "用量记录无效：{reason}", "Malformed usage record: {reason}"),
    "dispute_not_found": (404, "找不到该争议", "No such dispute"),
    "dispute_exists": (409, "该账单项已有未结争议", "This line already has an open dispute"),
    "rent_over_credit_limit": (
        422,
        "所订业务的月租 {rent} 元超过信用额度 {limit} 元：请先将信用额度调整到不低于 {rent} 元",
        "The monthly fee of this order ({rent} yuan) exceeds your credit limit ({limit} yuan): "
        "raise your credit limit to at least {rent} yuan first",
    ),
    "explanation_required": (
        422,
        "请填写处理说明：向客户说明核查结果和处理依据",
        "An explanation is required: tell the customer what was found and why",
    ),
    "device_not_found": (404, "找不到该终端", "No such device"),
    "serial_taken": (409, "该序列号已登记", "That serial number is already registered"),
    "claim_not_found": (404, "找不到该保修申请", "No such warranty claim"),
    "claim_already_open": (
        409,
        "该终端已有处理中的保修申请",
        "This device already has an open warranty claim",
    ),
    "device_returned": (
        409,
        "该终端已更换并交回，请对新终端提出申请",
        "This device was replaced and handed back; make the claim on the new device",
    ),
    "incident_not_found": (404, "找不到该故障记录", "No such incident"),
    "job_running_elsewhere": (
        409,
        "任务 {job} 正在另一节点运行，请稍后再试",
        "The job {job} is running on another node; try again later",
    ),
    "node_busy": (
        503,
        "服务繁忙，请 {seconds} 秒后重试",
        "The service is busy; try again in {seconds} s",
    ),
    "node_unreachable": (
        503,
        "服务节点暂时无法响应，请稍后重试",
        "The node handling this is not answering; try again in a moment",
    ),
    "internal_error": (500, "服务器内部错误", "Internal server error"),
    "database_unavailable": (
        503,
        "数据库暂时不可用，请稍后再试",
        "The database is unavailable; try again shortly",
    ),
    # phone numbers (numbers/)
    "number_not_found": (404, "找不到该号码", "No such number"),
    # SIP phones (sip/)
    "sip_credentials_not_found": (
        404,
        "该号码尚未开通 SIP 话机账号",
        "This number has no SIP phone account yet",
    ),
    "sip_number_not_assigned": (
        409,
        "号码尚未分配给成员，无法开通 SIP 话机",
        "The number rings no member yet, so it cannot have a SIP phone",
    ),
    "sip_gateway_no_account": (
        409,
        "您的号码尚未开通 SIP 账号，无法从浏览器拨打电话网号码",
        "None of your numbers has a SIP account, so this browser cannot call phones",
    ),
    "sip_gateway_unavailable": (
        503,
        "浏览器到话机的网关暂时不可用，请稍后再试",
        "The gateway between browsers and phones is unavailable; try again shortly",
    ),
    "sip_line_busy": (409, "此浏览器已在一通话机通话中", "This browser is already in a phone call"),
    "sip_call_refused": (409, "网关未能发起这通呼叫", "The gateway could not place this call"),
    "sip_call_not_found": (404, "没有这通话机通话", "No such phone call"),
    "number_transition_refused": (
        409,
        "号码当前状态（{state}）不允许此操作（{action}）",
        "The number's state ({state}) does not allow this ({action})",
    ),
    "number_taken": (
        409,
        "该号码已被他人选中，请换一个",
        "Someone else took that number; pick another",
    ),
    "number_hold_limit": (
        409,
        "同时最多可预留 {max} 个号码，请先确认或释放",
        "You can hold at most {max} numbers at once; confirm or let some go first",
    ),
    "number_hold_lapsed": (
        409,
        "号码预留已过期，请重新预留",
        "Your hold on the number lapsed; reserve it again",
    ),
    "number_source_required": (
        422,
        "号码必须登记合法来源（运营商和码号批文编号）",
        "Numbers need a legitimate source (carrier and allocation document reference)",
    ),
    "number_range_invalid": (
        422,
        "号段无效：起止号码须同长度，且最多 {max} 个",
        "Invalid range: start and end must have the same length, at most {max} numbers",
    ),
    "number_tier_unpriced": (
        409,
        "该号码的价格档位（{tier}）尚未定价",
        "The number's price tier ({tier}) has no price yet",
    ),
    "number_member_invalid": (
        422,
        "只能分配给本组织的成员",
        "A number can only go to a member of your organisation",
    ),
    "number_rent_with_number": (
        409,
        "号码月租随号码释放而停止：请在号码页面释放号码",
        "A number's rent ends when the number is released: release it on the numbers page",
    ),
    "number_customer_only": (
        403,
        "只有个人用户或组织管理员可以选号",
        "Only individual subscribers and organisation administrators select numbers",
    ),
    # supplementary services (yuntong.supplementary)
    "service_not_ordered": (
        403,
        "您尚未订购该业务（{service}），请先在业务订购中订购",
        "You have not ordered this service ({service}); order it first",
    ),
    "forwarding_target_invalid": (
        400,
        "转移号码须为其他用户正在使用的云通号码（接入运营商中继后也可为公网号码）",
        "Calls can only be forwarded to another user's Yuntong number in service (or, with a "
        "carrier trunk, a public number)",
    ),
    "barring_pin_invalid": (400, "呼叫限制密码须为 4 位数字", "The barring PIN must be 4 digits"),
    "barring_pin_required": (
        403,
        "请先设置呼叫限制密码",
        "Set a barring PIN first",
    ),
    "barring_pin_wrong": (403, "呼叫限制密码错误", "Wrong barring PIN"),
    "barring_pin_locked": (
        429,
        "呼叫限制密码错误次数过多，请 15 分钟后再试",
        "Too many wrong barring PINs; try again in 15 minutes",
    ),
    "mmi_unknown": (400, "无法识别的业务代码：{dialled}", "Unknown service code: {dialled}"),
    # porting (numbers/port_in.py, numbers/port_out.py)
    "port_in_unavailable": (
        409,
        "本运营商暂不受理携号转入",
        "This operator does not take numbers ported in",
    ),
    "port_in_not_mobile": (422, "只有手机号码可以携号转网", "Only mobile numbers can be ported"),
    "port_in_other_network": (
        422,
        "只能携入本地网（{province}）的号码",
        "Only numbers of the local network ({province}) can be ported in",
    ),
    "port_in_number_ours": (
        409,
        "该号码已在本运营商",
        "That number is with this operator already",
    ),
    "port_in_open_request": (
        409,
        "该号码已有正在办理的携入申请",
        "That number has a port-in request in progress",
    ),
    "port_in_identity_missing": (
        422,
        "请先完成实名登记（证件号码）再申请携号转入",
        "Complete your real-name registration (ID number) before porting a number in",
    ),
    "port_in_number_unknown": (
        422,
        "原运营商查无此号码",
        "The losing carrier has no such number in service",
    ),
    "port_in_holder_mismatch": (
        422,
        "该号码在原运营商登记的实名信息与申请人不一致",
        "The number is registered to someone else at the losing carrier",
    ),
    "port_in_too_new": (
        422,
        "号码在网时间不足 {days} 天",
        "The number has been in service for less than {days} days",
    ),
    "port_in_arrears": (
        422,
        "该号码在原运营商尚有欠费，请结清后再申请",
        "The number has arrears at the losing carrier; settle them first",
    ),
    "port_document_invalid": (
        422,
        "授权书须为 PDF、JPEG 或 PNG 文件，且不超过 {max_mb} MB",
        "The authorisation document must be a PDF, JPEG or PNG of at most {max_mb} MB",
    ),
    "port_request_not_found": (404, "找不到该携号申请", "No such porting request"),
    "port_transition_refused": (
        409,
        "携号申请当前状态（{state}）不允许此操作（{action}）",
        "The porting request's state ({state}) does not allow this ({action})",
    ),
    "port_request_checks_pending": (
        409,
        "原运营商的校验结果尚未返回",
        "The losing carrier has not answered the checks yet",
    ),
    "port_request_too_early": (
        409,
        "未到携号日期（{date}）",
        "The porting date ({date}) has not come yet",
    ),
    "port_out_code_throttled": (
        429,
        "授权码申请过于频繁，请稍后再试",
        "Too many authorisation codes asked for; try again later",
    ),
    "port_out_code_invalid": (
        403,
        "授权码错误或已过期",
        "The authorisation code is wrong or has expired",
    ),
    "port_out_code_locked": (
        429,
        "授权码错误次数过多，请 {minutes} 分钟后再试",
        "Too many wrong authorisation codes; try again in {minutes} minutes",
    ),
    # call waiting (calls/engine.py)
    "call_not_held": (409, "该通话未被您保持", "You have not put this call on hold"),
    # do-not-disturb schedules (presence/schedules.py)
    "dnd_schedule_not_found": (404, "找不到该勿扰时段", "No such do-not-disturb schedule"),
    "dnd_schedule_limit": (
        409,
        "最多可设置 {max} 个勿扰时段",
        "You can have at most {max} do-not-disturb schedules",
    ),
    "dnd_schedule_time_invalid": (
        422,
        "时间须为 00:00–23:59 之间的“时:分”",
        "Times are hours and minutes between 00:00 and 23:59",
    ),
    "dnd_schedule_weekdays_invalid": (
        422,
        "“指定星期”须至少选择一天（周一至周日）；其他重复方式不选星期",
        "Choose at least one weekday (Monday to Sunday) for chosen weekdays, and none otherwise",
    ),
    # backups (yuntong backup; docs/backup.md)
    "backup_key_missing": (
        409,
        "未设置备份密钥（YUNTONG_BACKUP_KEY）；用 yuntong backup key 生成一个，并另行妥善保管",
        "No backup key is set (YUNTONG_BACKUP_KEY); make one with `yuntong backup key` and keep "
        "it apart from this machine",
    ),
    "backup_key_invalid": (
        409,
        "备份密钥无效：须为 32 字节的 URL 安全 Base64 编码",
        "The backup key is invalid: it must be 32 bytes in URL-safe base64",
    ),
    "backup_wrong_key": (
        409,
        "该备份不是用当前备份密钥加密的",
        "This backup was not encrypted with the backup key set here",
    ),
    "backup_tampered": (
        409,
        "备份已损坏或被改动（{file} 校验不符）",
        "The backup is damaged or was altered ({file} does not match its checksum)",
    ),
    "backup_incomplete": (
        409,
        "备份不完整：缺少 {file}",
        "The backup is incomplete: {file} is missing",
    ),
    "backup_rows_differ": (
        409,
        "表 {table} 的行数与备份清单不符（清单 {expected}，实际 {found}）",
        "Table {table} does not have the rows the manifest lists ({expected} listed, "
        "{found} found)",
    ),
    "backup_not_found": (404, "找不到备份 {name}", "No backup named {name}"),
    "backup_dir_missing": (
        409,
        "未设置备份目录：用 --folder 指定，或设置 YUNTONG_BACKUP_DIR",
        "No backup folder: give --folder or set YUNTONG_BACKUP_DIR",
    ),
    "backup_unsupported_database": (
        409,
        "只能备份 SQLite 文件数据库或 PostgreSQL",
        "Only a SQLite database file or PostgreSQL can be backed up",
    ),
    "backup_database_unreachable": (
        503,
        "无法连接数据库：{reason}",
        "The database cannot be reached: {reason}",
    ),
    "backup_tool_missing": (
        409,
        "找不到 {tool}：请安装与数据库服务器版本一致的 PostgreSQL 客户端工具",
        "{tool} was not found: install the PostgreSQL client tools of the server's version",
    ),
    "backup_tool_too_old": (
        409,
        "{tool} 的版本（{version}）低于数据库服务器（{server}）",
        "{tool} (version {version}) is older than the database server ({server})",
    ),
    "backup_tool_failed": (500, "{tool} 失败：{reason}", "{tool} failed: {reason}"),
    "backup_scratch_refused": (
        409,
        "无法创建用于校验的临时数据库（需要 CREATEDB 权限）：{reason}",
        "The scratch database for verifying could not be made (it needs CREATEDB): {reason}",
    ),
    "backup_backend_mismatch": (
        409,
        "这是 {backup} 数据库的备份，不能恢复到 {target}",
        "This is a backup of a {backup} database; it cannot go into {target}",
    ),
    "backup_restore_live": (
        409,
        "数据库正在使用中（运行中的节点：{nodes}）；请先停止所有节点再恢复",
        "The database is in use (nodes running: {nodes}); stop every node before restoring",
    ),
    "backup_restore_in_use": (
        409,
        "另有 {sessions} 个会话连接着该数据库；请先停止使用它的进程再恢复",
        "{sessions} other sessions are connected to the database; stop what uses it first",
    ),
    "backup_restore_not_empty": (
        409,
        "目标数据库不是空的（{tables} 张表）；恢复到空数据库，或确认后加 --replace",
        "The target database is not empty ({tables} tables); restore into an empty one, or "
        "give --replace",
    ),
    "backup_restore_files_exist": (
        409,
        "{folder} 中已有数据；恢复到空目录，或确认后加 --replace（原有内容另存）",
        "{folder} holds data already; restore into an empty place, or give --replace (what is "
        "there is set aside)",
    ),
    # customer-service desk (support/)
    "support_identity_invalid": (
        403,
        "访客身份签名无效",
        "The visitor's identity signature is not valid",
    ),
    "support_identity_expired": (
        403,
        "访客身份签名已过期（有效期 {minutes} 分钟），请刷新页面",
        "The visitor's identity signature has expired (it lasts {minutes} min); reload the page",
    ),
    "support_identity_replayed": (
        403,
        "该身份签名已使用过，请刷新页面",
        "That identity signature was used already; reload the page",
    ),
    "support_identity_required": (
        403,
        "此客服入口只接待已登录的用户",
        "This desk only talks to signed-in users of the site",
    ),
    "support_visitor_invalid": (
        401,
        "访客会话已失效，请刷新页面",
        "The chat session ended; reload",
    ),
    "support_origin_refused": (
        403,
        "此网站不在该客服收件箱允许的来源中",
        "This site is not among the inbox's allowed origins",
    ),
    "support_inbox_not_found": (404, "找不到该客服收件箱", "No such inbox"),
    "support_conversation_not_found": (404, "找不到该会话", "No such conversation"),
    "support_conversation_changed": (
        409,
        "该会话刚刚被他人处理，请刷新",
        "Someone else just changed this conversation; reload it",
    ),
    "support_not_an_agent": (403, "您不是客服坐席", "You are not an agent of any inbox"),
    "support_not_your_conversation": (
        403,
        "该会话未分配给您",
        "This conversation is not assigned to you",
    ),
    "support_agent_not_found": (404, "该用户不是此收件箱的坐席", "Not an agent of this inbox"),
    "support_agent_outsider": (
        422,
        "坐席必须是本组织的成员或运营方工作人员",
        "Agents must be members of the organisation or operator staff",
    ),
    "support_agent_unavailable": (
        409,
        "该坐席当前离开或离线，不能转接",
        "That agent is away or offline and cannot take it",
    ),
    # the public status page (sla/status.py, sla/subscriptions.py)
    "status_state_invalid": (422, "无效的状态：{state}", "Not a valid state here: {state}"),
    "status_component_not_found": (404, "找不到该组件：{id}", "No such component: {id}"),
    "status_component_taken": (409, "组件标识 {name} 已存在", "A component {name} exists already"),
    "status_incident_resolved": (
        409,
        "该故障已解决，不能再发布更新",
        "This incident is resolved; no more updates can be posted",
    ),
    "status_maintenance_not_found": (404, "找不到该维护计划", "No such maintenance"),
    "status_maintenance_past": (
        422,
        "维护结束时间已过，不能再公告",
        "The maintenance window has ended; it cannot be announced",
    ),
    "status_maintenance_over": (
        409,
        "该维护已结束或已取消",
        "This maintenance is over or cancelled already",
    ),
    "status_token_invalid": (
        404,
        "链接无效或已过期，请重新订阅",
        "The link is invalid or has expired; subscribe again",
    ),
    "incident_open": (
        409,
        "故障尚未解决，解决后才能计算补偿",
        "The incident is still open; credits are applied once it is resolved",
    ),
    "tariff_no_rate": (
        404,
        "没有覆盖该号码的资费，无法呼出",
        "No tariff covers this number: it cannot be called",
    ),
    "tariff_destination_invalid": (
        422,
        "号码无效：请输入完整号码（国内号码或以 + 开头的国际号码）",
        "Invalid number: give the whole number (national, or international with +)",
    ),
    "tariff_table_invalid": (
        422,
        "资费表有 {count} 处错误，未导入任何内容",
        "The table has {count} errors; nothing was imported",
    ),
    "tariff_table_too_large": (
        413,
        "资费表最多 {limit} 行",
        "A table has at most {limit} rows",
    ),
    "tariff_trunk_invalid": (
        422,
        "中继名称应为 1 至 40 个字母、数字、点、下划线或连字符",
        "A trunk name is 1 to 40 letters, digits, dots, underscores or hyphens",
    ),
    "tariff_effective_invalid": (
        422,
        "生效时间不能早于现在（须带时区）",
        "The effective time must not be in the past (and must carry a time zone)",
    ),
    "tariff_period_invalid": (
        422,
        "时段无效：结束日期不能早于开始日期，最长 {days} 天",
        "Invalid period: the end must not be before the start, at most {days} days",
    ),
    "conference_not_found": (404, "找不到该电话会议", "No such conference call"),
    "conference_forbidden": (403, "只有会议组织者可以执行此操作", "Only the organiser may do this"),
    "conference_ended": (409, "电话会议已结束", "The conference call has ended"),
    "conference_locked": (423, "电话会议已锁定，不能再加入", "The conference call is locked"),
    "conference_pin_wrong": (403, "会议 PIN 码错误", "Wrong conference PIN"),
    "conference_pin_invalid": (422, "PIN 码须为 4 到 8 位数字", "The PIN must be 4 to 8 digits"),
    "conference_pin_taken": (
        409,
        "该号码上已有使用此 PIN 码的电话会议，请换一个 PIN 码",
        "Another conference call on this number has that PIN; choose another",
    ),
    "conference_number_not_yours": (
        403,
        "入会号码须为您名下的号码或运营商的会议号码",
        "The dial-in number must be one of your numbers or an operator conference number",
    ),
    "conference_leg_not_found": (404, "找不到该参会方", "No such participant"),
    "conference_callee_unreachable": (
        409,
        "无法呼叫该号码：不是有效号码，或其 SIP 话机未注册",
        "That number cannot be called: not a number, or its SIP phone is not registered",
    ),
}

# the messages of the errors above, as the one string form (yuntong/strings.py installs them)
STRINGS = strings(
    "error", {f"error.{code}": (zh, en) for code, (_status, zh, en) in ERRORS.items()}
)


class YuntongError(Exception):
    """A failure the user can read: stable ``code``, localised message, optional field errors."""

    def __init__(
        self,
        code: str,
        *,
        fields: dict[str, str] | None = None,
        status: int | None = None,
        retry_after: int | None = None,
        **params: Any,
    ) -> None:
        if code not in ERRORS:
            raise ValueError(f"unknown error code {code}")
        super().__init__(code)
        self.code = code
        self.params = params
        self.fields = fields or {}
        self.status = status or ERRORS[code][0]
        # seconds before trying again is worth it: a ``Retry-After`` header and body field
        self.retry_after = retry_after

    @property
    def headers(self) -> dict[str, str] | None:
        return None if self.retry_after is None else {"Retry-After": str(self.retry_after)}

    def message(self, locale: str) -> str:
        return translate(f"error.{self.code}", locale, **self.params)

    def to_dict(self, locale: str) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message(locale)}
        if self.retry_after is not None:
            body["retry_after"] = self.retry_after
        if self.fields:
            body["fields"] = {
                name: {"code": fcode, "message": translate(f"field.{fcode}", locale)}
                for name, fcode in self.fields.items()
            }
        return body


def allows(check: Callable[[], object]) -> bool:
    """Whether ``check()`` passes, raising no :class:`YuntongError`: what a ``can_*`` flag
    says, from the same check the action itself runs."""
    try:
        check()
    except YuntongError:
        return False
    return True


# what is wrong with one field of a form (``fields`` of an error)
FIELDS = strings(
    "field",
    {
        "field.required": ("必填", "Required"),
        "field.too_long": ("内容过长", "Too long"),
        "field.invalid": ("格式不正确", "Invalid format"),
        "field.invalid_id_number": (
            "身份证号码无效（校验位不符）",
            "Invalid resident ID number (check digit mismatch)",
        ),
        "field.invalid_uscc": (
            "统一社会信用代码无效（校验码不符）",
            "Invalid unified social credit code (check character mismatch)",
        ),
        "field.invalid_phone": ("电话号码无效", "Invalid phone number"),
        "field.invalid_email": ("邮箱地址无效", "Invalid e-mail address"),
        "field.invalid_date": ("日期无效", "Invalid date"),
        "field.weak_password": (
            "密码至少 10 位，且不能与用户名相同",
            "Password must be at least 10 characters and differ from the username",
        ),
        "field.invalid_username": (
            "用户名须为 3–32 位小写字母、数字、点、下划线或连字符",
            "Username: 3–32 lowercase letters, digits, dot, underscore or hyphen",
        ),
        "field.birth_mismatch": (
            "出生日期与身份证号码不一致",
            "Date of birth does not match the ID number",
        ),
        "field.taken": ("已被使用", "Already in use"),
        "field.in_the_past": ("时间已过", "That time has passed"),
        "field.not_a_contact": ("只能邀请您的联系人", "You can only invite your contacts"),
        "field.weekdays": (
            "请至少选择一天（周一至周日）",
            "Choose at least one day, Monday to Sunday",
        ),
    },
)
