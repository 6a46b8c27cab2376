"""Reference data every deployment starts with: instruction codes, the MoH rule template, the privacy notice."""
from datetime import date

from sqlalchemy import select

from .extensions import db
from .models import Instruction, MonitoringRule, PrivacyNotice

# The codes the 2021 provincial system printed at checkpoints (DESIGN.md, "Rules as data").
INSTRUCTIONS = [
    (1, "Tự theo dõi sức khỏe 21 ngày", "self_monitoring", 21, False),
    (2, "Cách ly tại nhà 21 ngày", "home_quarantine", 21, False),
    (3, "Cách ly tập trung 21 ngày (cần lãnh đạo phê duyệt)", "central_quarantine", 21, True),
    (4, "Giữ liên lạc, chốt sẽ gọi báo kết quả xét nghiệm", "declaration_only", 0, False),
    (5, "Tự theo dõi sức khỏe 7 ngày", "self_monitoring", 7, False),
    (6, "Cách ly tại nhà 14 ngày", "home_quarantine", 14, False),
    (7, "Cách ly tại nhà 7 ngày", "home_quarantine", 7, False),
    (8, "Cách ly tập trung 14 ngày (cần lãnh đạo phê duyệt)", "central_quarantine", 14, True),
]

SOURCE = "Bộ Y tế, hướng dẫn cho người đến từ địa bàn cấp độ 4 (10–12/2021); Quyết định 4800/QĐ-BYT"

# (origin level, vaccination) -> measure, days, self-monitoring after, test days, approval, instruction
TEMPLATE = []
for level in (1, 2):
    for vacc in ("full", "recovered", "partial", "none"):
        TEMPLATE.append((level, vacc, "declaration_only", 0, 0, [], False, None))
for vacc in ("full", "recovered", "partial", "none"):
    TEMPLATE.append((3, vacc, "self_monitoring", 7, 0, [], False, 5))
for level in (4, 5):
    TEMPLATE += [
        (level, "full", "self_monitoring", 7, 0, [1], False, 5),
        (level, "recovered", "self_monitoring", 7, 0, [1], False, 5),
        (level, "partial", "home_quarantine", 7, 7, [1, 7], False, 7),
        (level, "none", "central_quarantine", 14, 14, [1, 7, 14], True, 8),
    ]

PRIVACY_NOTICE = """Mục đích: thông tin bạn khai chỉ dùng để phòng, chống dịch: kiểm soát người vào tỉnh, \
theo dõi sức khỏe tại xã, phường nơi đến và liên hệ khi cần.
Bên kiểm soát dữ liệu: Ban Chỉ đạo phòng, chống dịch của tỉnh; Sở Y tế là đơn vị vận hành.
Bên nhận dữ liệu: nhân viên tại chốt, trạm y tế xã, phường nơi bạn đến và cơ quan y tế có thẩm quyền. \
Không chia sẻ cho mục đích khác.
Thời gian lưu: dữ liệu định danh được xóa sau khi kết thúc theo dõi theo thời hạn quy định; \
chỉ giữ số liệu thống kê.
Quyền của bạn: được biết, truy cập, chỉnh sửa, yêu cầu xóa dữ liệu theo Luật Bảo vệ dữ liệu \
cá nhân số 91/2025/QH15, qua đường dây nóng của tỉnh.
Bạn đồng ý bằng cách đánh dấu ô "Tôi đã đọc thông báo ở trên và đồng ý" trước khi gửi khai báo."""


def seed_reference_data() -> dict[str, int]:
    """Insert what is missing; never changes what a supervisor has edited. Idempotent."""
    added = {"instructions": 0, "rules": 0, "privacy_notice": 0}
    known = set(db.session.scalars(select(Instruction.code)))
    for code, label, measure, days, approval in INSTRUCTIONS:
        if code not in known:
            db.session.add(Instruction(code=code, label=label, measure=measure, days=days,
                                       needs_approval=approval))
            added["instructions"] += 1
    db.session.flush()
    if db.session.scalar(select(MonitoringRule.id).limit(1)) is None:
        for level, vacc, measure, days, after, tests, approval, instruction in TEMPLATE:
            db.session.add(MonitoringRule(
                version=1, name="Mẫu Bộ Y tế 2021", effective_from=date(2021, 10, 11), published=True,
                origin_level=level, vaccination=vacc, measure=measure, days=days,
                self_monitoring_days_after=after, test_days=tests, needs_approval=approval,
                instruction_code=instruction, source=SOURCE))
            added["rules"] += 1
    if db.session.scalar(select(PrivacyNotice.id).limit(1)) is None:
        db.session.add(PrivacyNotice(version="2026-01", text=PRIVACY_NOTICE))
        added["privacy_notice"] = 1
    db.session.flush()
    return added
