"""The 社会化管理 / 生存认证 demo step: every receiving person (ZG, NB, BZ, TB) gets a certification
history (one to three records, various methods); most are certified within the year, some are due this
month and some are overdue (the daily sweep will suspend them); those the 自管人员 step suspended for
未提供生存证明 have an old one. The communities of the receiving persons get an address, a contact person
and phones, a third of the persons a 家属/代理人, and one 社区专管员 login (``shequ``, 浒山街道's first
community). Set-based: one INSERT per table."""

from __future__ import annotations

import datetime as dt
import random

from shebao.demo.names import LANDLINE_PREFIXES, MOBILE_PREFIXES, SURNAMES
from shebao.demo.steps import demo_step

METHODS = ["office", "community", "mobile", "mobile", "mobile", "terminal", "bank", "bank", "data"]
PLACES = {"office": "社保经办大厅", "community": "村社区服务中心", "terminal": "自助终端", "bank": "银行网点"}


def certification_reset() -> None:
    from shebao.certification.models import Certification, CommunityInfo, PersonContact, SocialProfile

    Certification.objects.all().delete()
    PersonContact.objects.all().delete()
    CommunityInfo.objects.all().delete()
    SocialProfile.objects.all().delete()


def demo_png(rng: random.Random, width: int = 96, height: int = 64) -> bytes:
    """A small valid PNG (a plain colour with a band): the demo's 认证照片."""
    import struct
    import zlib

    colour = bytes(rng.randrange(120, 230) for _ in range(3))
    band = bytes(rng.randrange(20, 90) for _ in range(3))
    raw = b"".join(b"\x00" + (band if height // 3 <= y < height // 2 else colour) * width for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


LIVING = [("elsewhere", ["上海市浦东新区", "杭州市西湖区", "宁波市鄞州区", "深圳市南山区"]),
          ("abroad", ["澳大利亚悉尼", "加拿大多伦多"]), ("care", ["慈溪市社会福利中心", "浒山颐养院"]),
          ("hospital", ["慈溪市人民医院"])]
NOTES = ["行动不便，须上门", "听力较差，请找家属", "白天在子女家", "", "", ""]


def _phone(rng: random.Random) -> str:
    return rng.choice(MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}"


def _name(rng: random.Random) -> str:
    return rng.choice(list(SURNAMES)) + rng.choice("建国华明英芳伟丽军红")


@demo_step("certification", order=60, reset=certification_reset)
def certification_demo(scale: str, rng: random.Random, progress) -> str:
    import uuid
    from pathlib import Path

    from django.conf import settings
    from django.db import transaction
    from django.utils import timezone

    from shebao.accounts.models import User
    from shebao.accounts.services import user_create
    from shebao.benefits.models import Enrollment, Suspension
    from shebao.benefits.months import add_months
    from shebao.certification.models import Certification, CommunityInfo, PersonContact, SocialProfile
    from shebao.certification.services import community_worker_assign
    from shebao.demo.runner import DEMO_PASSWORD, demo_users_ensure
    from shebao.registry.models import Person, Region

    progress.start(1, "生成生存认证记录")
    demo_users_ensure()
    clerk = User.objects.get(username="clerk")
    today = timezone.localdate()
    receiving = list(Enrollment.objects.filter(payment_status__in=["active", "suspended"],
                                               person__death_date__isnull=True)
                     .values_list("person_id", "start_month", "person__community_id").distinct())
    no_cert = set(Suspension.objects.filter(to_month__isnull=True, reason__code="no_cert")
                  .values_list("enrollment__person_id", flat=True))
    certs, seen = [], set()
    communities: set[int] = set()
    for person_id, start, community in receiving:
        if person_id in seen:
            continue
        seen.add(person_id)
        if community:
            communities.add(community)
        roll = rng.random()
        if person_id in no_cert:
            last = today - dt.timedelta(days=rng.randint(430, 600))
        elif roll < 0.06:  # overdue: due before this month
            last = today - dt.timedelta(days=rng.randint(400, 480))
        elif roll < 0.16:  # due this month (in grace)
            last = add_months(today.replace(day=1), -12) + dt.timedelta(days=rng.randint(0, 27))
        else:
            last = today - dt.timedelta(days=rng.randint(5, 330))
        last = max(last, start)
        dates = [last]
        for _ in range(rng.randint(0, 2)):
            earlier = dates[-1] - dt.timedelta(days=rng.randint(330, 380))
            if earlier >= start:
                dates.append(earlier)
        for d in dates:
            method = rng.choice(METHODS)
            certs.append(Certification(person_id=person_id, certified_on=d, method=method,
                                       place=PLACES.get(method, ""), operator=clerk,
                                       source="数据比对：民政、卫健数据" if method == "data" else "演示数据"))
    contacts = [PersonContact(person_id=pid, name=_name(rng), relation=rng.choice(["family", "family", "agent"]),
                              relation_note=rng.choice(["子女", "配偶", "侄子", "邻居"]), phone=_phone(rng))
                for pid in sorted(seen) if rng.random() < 0.33]
    infos = []
    for region in Region.objects.filter(pk__in=communities).select_related("parent"):
        infos.append(CommunityInfo(region=region, address=f"{region.parent.name}{region.name}服务中心",
                                   contact_name=_name(rng), phone=rng.choice(LANDLINE_PREFIXES) + f"{rng.randrange(10**6):06d}",
                                   mobile=_phone(rng)))
    # 人员维护: half of the persons have their 社会化管理 data kept; a few live away from home
    addresses = dict(Person.objects.filter(pk__in=seen).values_list("pk", "residence_address"))
    profiles = []
    for pid in sorted(seen):
        if rng.random() >= 0.5:
            continue
        living, place = "home", ""
        if rng.random() < 0.12:
            living, places = rng.choice(LIVING)
            place = rng.choice(places)
        profiles.append(SocialProfile(person_id=pid, living=living, living_place=place, updated_by=clerk,
                                      visit_address=addresses.get(pid) or "", visit_note=rng.choice(NOTES)))
    # 认证附件: a photo on a few certifications at the counter or a visit (files under MEDIA_ROOT)
    media = Path(settings.MEDIA_ROOT) / "certification" / "demo"
    media.mkdir(parents=True, exist_ok=True)
    candidates = [c for c in certs if c.method in ("office", "community")]
    with_photo = rng.sample(candidates, min(40, len(candidates)))
    for n, cert in enumerate(with_photo, start=1):
        stored = f"certification/demo/{uuid.UUID(int=rng.getrandbits(128)).hex}.png"
        (Path(settings.MEDIA_ROOT) / stored).write_bytes(demo_png(rng))
        cert.attachment = stored
        cert.attachment_name = f"认证照片{n}.png"
        cert.attachment_type = "image/png"
    with transaction.atomic():
        Certification.objects.bulk_create(certs, batch_size=5000, ignore_conflicts=True)
        SocialProfile.objects.bulk_create(profiles, batch_size=5000, ignore_conflicts=True)
        PersonContact.objects.bulk_create(contacts, batch_size=5000)
        CommunityInfo.objects.bulk_create(infos, ignore_conflicts=True)
        first = Region.objects.filter(level="community", parent__name="浒山街道").order_by("sort").first()
        if first is not None and not User.objects.filter(username="shequ").exists():
            worker = user_create(actor=None, username="shequ", full_name="社区专管员", password=DEMO_PASSWORD,
                                 roles=["community"], region_ids=[], all_regions=False, must_change_password=False,
                                 sensitive=False)
            community_worker_assign(worker=worker, communities=[first], actor=None)
    progress.advance()
    return (f"生存认证 {len(certs)} 条（{len(seen)} 人，附件 {len(with_photo)} 个），联系人 {len(contacts)} 个，"
            f"村社区信息 {len(infos)} 个，人员社会化信息 {len(profiles)} 人")
