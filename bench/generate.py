"""A realistic recruitment consultant's mailbox, written straight into Maildir files.

Going through IMAP APPEND would take longer than the benchmark itself at 100k
messages, so files are written directly (Maildir++ layout as Dovecot reads it
with `mail_location = maildir:~/Maildir`). Each file's mtime is its delivery
time, because that is what Dovecot reports as INTERNALDATE and what SEARCH
SINCE compares; file names start with the same timestamp so Dovecot hands out
UIDs in delivery order, as on a real server.

The mix (fractions of the requested size, seeded, so the same size always
gives the same bytes):
- outreach: ~0.22 N threads to ~0.20 N distinct external contacts, with
  follow-ups: ~0.29 N messages in Sent;
- human replies for ~40% of threads, threaded with In-Reply-To/References,
  in INBOX (some filed in Archive), sometimes a further exchange;
- auto-replies for ~5% of outreach (Exchange, Chinese enterprise mail, Gmail
  vacation, subject-only 163-style), bounces (multipart/report DSN) ~2%;
- newsletters and job-board mail (List-Id, List-Unsubscribe): 0.30 N, mostly
  in Newsletters;
- colleague mail (internal domain) fills up to exactly N, in INBOX, Archive and Sent.

Names and subjects are Chinese or English, RFC 2047 encoded in UTF-8 or GBK
(B and Q), folded when long, and a few raw 8-bit UTF-8 headers as Chinese
webmail sends them. Dates spread over the `days` before a fixed `now`.

Standalone: `python -m bench.generate --messages 1000 --out /tmp/Maildir`.
"""

from __future__ import annotations

import argparse
import base64
import email.quoprimime
import hashlib
import os
import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
DAYS = 80
SEED = 20260302
OWN_NAME = "李娜"
OWN_ADDR = "li.na@talentbridge.cn"
INTERNAL_DOMAIN = "talentbridge.cn"
FOLDERS = ("INBOX", "Sent", "Archive", "Newsletters")
CN = timezone(timedelta(hours=8), "CST")

_SURNAMES = (
    ("王", "wang"), ("李", "li"), ("张", "zhang"), ("刘", "liu"), ("陈", "chen"),
    ("杨", "yang"), ("黄", "huang"), ("赵", "zhao"), ("吴", "wu"), ("周", "zhou"),
    ("徐", "xu"), ("孙", "sun"), ("马", "ma"), ("朱", "zhu"), ("胡", "hu"),
    ("郭", "guo"), ("何", "he"), ("高", "gao"), ("林", "lin"), ("罗", "luo"),
    ("郑", "zheng"), ("梁", "liang"), ("谢", "xie"), ("宋", "song"), ("唐", "tang"),
    ("许", "xu"), ("韩", "han"), ("冯", "feng"), ("邓", "deng"), ("曹", "cao"),
    ("彭", "peng"), ("曾", "zeng"), ("肖", "xiao"), ("田", "tian"), ("董", "dong"),
    ("袁", "yuan"), ("潘", "pan"), ("蒋", "jiang"), ("蔡", "cai"), ("欧阳", "ouyang"),
)  # fmt: skip
_GIVEN = (
    ("伟", "wei"), ("芳", "fang"), ("娜", "na"), ("敏", "min"), ("静", "jing"),
    ("丽", "li"), ("强", "qiang"), ("磊", "lei"), ("军", "jun"), ("洋", "yang"),
    ("艳", "yan"), ("杰", "jie"), ("涛", "tao"), ("明", "ming"), ("超", "chao"),
    ("秀英", "xiuying"), ("浩然", "haoran"), ("子涵", "zihan"), ("欣怡", "xinyi"),
    ("梓轩", "zixuan"), ("雨桐", "yutong"), ("宇航", "yuhang"), ("思远", "siyuan"),
    ("嘉怡", "jiayi"), ("俊杰", "junjie"), ("晓明", "xiaoming"), ("文博", "wenbo"),
    ("一鸣", "yiming"), ("佳琪", "jiaqi"), ("志强", "zhiqiang"), ("海燕", "haiyan"),
    ("建华", "jianhua"), ("丹", "dan"), ("颖", "ying"), ("鹏", "peng"), ("婷", "ting"),
)  # fmt: skip
_FIRST = (
    "Emily", "James", "Olivia", "Daniel", "Sophie", "Michael", "Grace", "David", "Hannah",
    "Thomas", "Chloe", "Lucas", "Amelia", "Ryan", "Isabella", "Kevin", "Laura", "Mark",
    "Priya", "Arjun", "Mei", "Kenji", "Sara", "Jonas", "Elena", "Marco", "Aisha", "Tom",
)  # fmt: skip
_LAST = (
    "Carter", "Nguyen", "Smith", "Miller", "Brown", "Wilson", "Taylor", "Anderson",
    "Thompson", "Walker", "Harris", "Clarke", "Patel", "Sharma", "Tanaka", "Kim",
    "Schmidt", "Rossi", "Müller", "O'Brien", "Fischer", "Lee", "Wong", "Chan",
)  # fmt: skip
_FREEMAIL = ("qq.com", "163.com", "126.com", "gmail.com", "outlook.com", "foxmail.com", "sina.com")
_COMPANY_DOMAINS = tuple(
    f"{a}{b}.{tld}"
    for a, b, tld in (
        ("huaxin", "tech", "cn"), ("xingyun", "data", "com"), ("lanhai", "capital", "com"),
        ("qiming", "bio", "cn"), ("yunfan", "logistics", "com"), ("tiancheng", "auto", "cn"),
        ("dongfang", "mfg", "com.cn"), ("hengtai", "fin", "com"), ("northwind", "", "com"),
        ("contoso", "health", "com"), ("fabrikam", "", "io"), ("globex", "", "com"),
        ("initech", "", "com"), ("umbrella", "bio", "com"), ("stark", "mobility", "com"),
        ("wayne", "capital", "hk"), ("zhongke", "ai", "cn"), ("jinghua", "semi", "com"),
        ("meituan", "-like", "cn"), ("pinduo", "mall", "cn"), ("shenlan", "robotics", "cn"),
        ("haitian", "pharma", "com"), ("bluepeak", "games", "com"), ("redleaf", "media", "cn"),
    )
)  # fmt: skip
_CLIENTS_ZH = ("华信科技", "星云数据", "蓝海资本", "启明生物", "云帆物流", "天成汽车", "东方智造",
               "恒泰金融")  # fmt: skip
_CLIENTS_EN = ("Northwind", "Contoso Health", "Fabrikam", "Globex", "Initech", "Stark Mobility")
_TITLES_ZH = (
    "高级Java工程师", "产品经理", "数据科学家", "前端开发负责人", "财务总监", "销售总监",
    "HRBP", "算法工程师", "测试经理", "供应链经理", "品牌市场经理", "首席技术官", "运营总监",
)  # fmt: skip
_TITLES_EN = (
    "Senior Backend Engineer", "Product Manager", "Data Scientist", "Head of Finance",
    "Sales Director", "Engineering Manager", "VP Marketing", "Site Reliability Engineer",
    "Legal Counsel", "Supply Chain Lead",
)  # fmt: skip
_COLLEAGUES = (
    ("张伟", "zhang.wei"), ("王芳", "wang.fang"), ("陈静", "chen.jing"), ("刘洋", "liu.yang"),
    ("Mark Taylor", "mark.taylor"), ("赵敏", "zhao.min"), ("周杰", "zhou.jie"),
    ("Sophie Chan", "sophie.chan"), ("黄磊", "huang.lei"), ("孙丽", "sun.li"),
)  # fmt: skip
_NEWSLETTERS = (
    ("LinkedIn Talent Blog", "news@linkedin-talent.example", "talent-blog.linkedin-talent.example"),
    ("猎聘网", "service@liepin-mail.cn", "weekly.liepin-mail.cn"),
    ("脉脉", "notice@maimai-mail.cn", "digest.maimai-mail.cn"),
    ("智联招聘", "edm@zhaopin-mail.cn", "hr.zhaopin-mail.cn"),
    ("BOSS直聘", "noreply@boss-mail.cn", "recruiter.boss-mail.cn"),
    ("HR Dive", "newsletter@hrdive.example", "hrdive.example"),
    ("36氪", "daily@36kr-mail.cn", "daily.36kr-mail.cn"),
    ("Recruiting Brainfood", "hung@brainfood.example", "brainfood.example"),
    ("GitHub", "noreply@github.example", "github-digest.example"),
    ("Harvard Business Review", "emailteam@hbr.example", "hbr-daily.example"),
    ("哈佛商业评论", "hbrc@hbrchina-mail.cn", "hbrchina-mail.cn"),
    ("财新周刊", "caixin@caixin-mail.cn", "weekly.caixin-mail.cn"),
)  # fmt: skip
_OOO_ZH = (
    "您好，我目前正在休假，将于{m}月{d}日返回办公室，期间邮件回复可能延迟。紧急事务请联系我的同事。",
    "您好！本人{m}月{d}日前出差在外，无法及时回复邮件，回来后会尽快处理。谢谢！",
)
_OOO_EN = (
    "Thank you for your email. I am out of the office until {month} {d} with limited access "
    "to email. I will respond as soon as possible after my return.",
    "I'm currently on annual leave and will be back on {month} {d}. For urgent matters "
    "please contact my assistant.",
)
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December")  # fmt: skip


@dataclass(frozen=True, slots=True)
class Person:
    name: str
    addr: str
    zh: bool
    style: str  # how the display name is encoded: utf8b, gbkb, gb2312b, utf8q, raw8, plain


@dataclass
class Summary:
    """What was written, for the benchmark's header and the README."""

    messages: int = 0
    bytes: int = 0
    per_folder: Counter[str] = field(default_factory=Counter)
    per_kind: Counter[str] = field(default_factory=Counter)
    contacts: int = 0
    threads: int = 0
    replied_threads: int = 0


# --- header encoding ---------------------------------------------------------------


def _b_words(text: str, charset: str, codec: str) -> str:
    """RFC 2047 B-words, each under 75 characters, folded on continuation lines."""
    words: list[str] = []
    chunk = ""
    for ch in text:
        if len((chunk + ch).encode(codec)) > 42:  # 42 bytes -> 56 base64 chars per word
            words.append(chunk)
            chunk = ch
        else:
            chunk += ch
    if chunk:
        words.append(chunk)
    return "\n ".join(
        f"=?{charset}?B?{base64.b64encode(w.encode(codec)).decode('ascii')}?=" for w in words
    )


def encode_text(text: str, style: str) -> str:
    if text.isascii():
        return text
    if style == "gbkb":
        return _b_words(text, "GBK", "gbk")
    if style == "gb2312b":
        # Mail software labels GBK bytes "gb2312" all the time; keep that quirk.
        return _b_words(text, "gb2312", "gbk")
    if style == "utf8q":
        return email.quoprimime.header_encode(text.encode("utf-8"), charset="utf-8")
    if style == "raw8":
        return text  # raw UTF-8 bytes in the header, as some Chinese webmail sends
    return _b_words(text, "UTF-8", "utf-8")


def fmt_addr(person: Person) -> str:
    if person.style == "plain" or person.name.isascii():
        name = person.name
        if any(c in name for c in "'.,()"):
            name = '"' + name.replace('"', "") + '"'
        return f"{name} <{person.addr}>"
    return f"{encode_text(person.name, person.style)} <{person.addr}>"


def fmt_date(when: datetime) -> str:
    return when.astimezone(CN).strftime("%a, %d %b %Y %H:%M:%S +0800")


# --- the mailbox writer -------------------------------------------------------------


class MaildirWriter:
    """Maildir++ as Dovecot lays it out: INBOX at the root, other folders as `.Name`."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.summary = Summary()
        self._seq = 0
        for folder in FOLDERS:
            base = self._dir(folder)
            for sub in ("cur", "new", "tmp"):
                (base / sub).mkdir(parents=True, exist_ok=True)
            if folder != "INBOX":
                (base / "maildirfolder").touch()
        (root / "subscriptions").write_text("".join(f"{f}\n" for f in FOLDERS if f != "INBOX"))

    def _dir(self, folder: str) -> Path:
        return self.root if folder == "INBOX" else self.root / f".{folder}"

    def put(self, folder: str, delivered: datetime, data: bytes, kind: str, *, seen: bool) -> None:
        self._seq += 1
        ts = int(delivered.timestamp())
        flags = "S" if seen else ""
        name = f"{ts}.M{self._seq:06d}P1.ghostwatch-bench,S={len(data)}:2,{flags}"
        path = self._dir(folder) / "cur" / name
        with open(path, "wb") as fh:
            fh.write(data)
        os.utime(path, (ts, ts))
        s = self.summary
        s.messages += 1
        s.bytes += len(data)
        s.per_folder[folder] += 1
        s.per_kind[kind] += 1


# --- message builders ---------------------------------------------------------------


def _msgid(rng: random.Random, domain: str, n: int) -> str:
    digest = hashlib.blake2b(f"{n}:{rng.random()}".encode(), digest_size=9).hexdigest()
    return f"<{digest}.{n}@{domain}>"


def _received(rng: random.Random, when: datetime, sender_domain: str) -> list[str]:
    hops = []
    t = when
    for host in (f"mx{rng.randint(1, 4)}.{INTERNAL_DOMAIN}", f"smtp.{sender_domain}"):
        hops.append(
            f"Received: from {host} ({host} [10.{rng.randint(0, 255)}.{rng.randint(0, 255)}."
            f"{rng.randint(1, 254)}])\n\tby mail.{INTERNAL_DOMAIN} (Postfix) with ESMTPS id "
            f"{rng.getrandbits(40):010X}\n\tfor <{OWN_ADDR}>; {fmt_date(t)}"
        )
        t -= timedelta(seconds=rng.randint(1, 20))
    return hops


def _dkim(rng: random.Random, domain: str) -> str:
    sig = base64.b64encode(rng.randbytes(128)).decode()
    return (
        f"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d={domain}; s=s2048;\n"
        f"\th=from:to:subject:date:message-id; bh={base64.b64encode(rng.randbytes(32)).decode()};\n"
        f"\tb={sig[:76]}\n\t {sig[76:]}"
    )


def _text_body(text: str, charset: str) -> tuple[list[str], bytes]:
    """Headers and encoded body for a text/plain part in the given charset."""
    codec = "gbk" if charset.lower() in ("gbk", "gb2312") else "utf-8"
    raw = text.encode(codec)
    if raw.isascii():
        return [
            "Content-Type: text/plain; charset=us-ascii",
            "Content-Transfer-Encoding: 7bit",
        ], raw
    b64 = base64.encodebytes(raw)
    return [
        f'Content-Type: text/plain; charset="{charset}"',
        "Content-Transfer-Encoding: base64",
    ], b64


def _assemble(headers: Sequence[str], body: bytes) -> bytes:
    return ("\n".join(headers) + "\n\n").encode("utf-8") + body


class Mailbox:
    """Builds the whole mailbox; every random choice comes from one seeded generator."""

    def __init__(self, root: Path, messages: int, *, seed: int, now: datetime, days: int) -> None:
        self.n = messages
        self.rng = random.Random(seed)
        self.now = now
        self.start = now - timedelta(days=days)
        self.out = MaildirWriter(root)
        self.me = Person(OWN_NAME, OWN_ADDR, True, "utf8b")
        self._ids = 0
        self._used: set[str] = set()

    # people

    def _person(self, domain: str | None = None) -> Person:
        rng = self.rng
        zh = rng.random() < 0.62
        if zh:
            (sur, sur_py), (giv, giv_py) = rng.choice(_SURNAMES), rng.choice(_GIVEN)
            name = sur + giv
            local = rng.choice((f"{giv_py}.{sur_py}", f"{sur_py}{giv_py}", f"{sur_py}.{giv_py}"))
            styles = ("utf8b", "gbkb", "gb2312b", "utf8q", "raw8")
            style = rng.choices(styles, (50, 22, 10, 12, 6))[0]
        else:
            first, last = rng.choice(_FIRST), rng.choice(_LAST)
            name = f"{first} {last}"
            local = f"{first}.{last}".lower().replace("'", "").replace("ü", "ue")
            style = "utf8b" if not name.isascii() else "plain"
        if domain is None:
            domain = rng.choice(_FREEMAIL if rng.random() < 0.4 else _COMPANY_DOMAINS)
        addr = f"{local}@{domain}"
        n = 1
        while addr in self._used:
            n += 1
            addr = f"{local}{n}@{domain}"
        self._used.add(addr)
        return Person(name, addr, zh, style)

    def _next_id(self, domain: str) -> str:
        self._ids += 1
        return _msgid(self.rng, domain, self._ids)

    def _when(self) -> datetime:
        span = (self.now - self.start).total_seconds() - 3600
        return self.start + timedelta(seconds=self.rng.random() * span)

    # one message

    def _message(
        self,
        *,
        folder: str,
        kind: str,
        sender: Person,
        to: Sequence[Person],
        subject: str,
        when: datetime,
        body: str,
        subject_style: str | None = None,
        in_reply_to: str | None = None,
        references: Sequence[str] = (),
        extra: Sequence[str] = (),
        cc: Sequence[Person] = (),
        msgid: str | None = None,
        charset: str | None = None,
        seen: bool = True,
        mailer: bool = True,
    ) -> str:
        rng = self.rng
        domain = sender.addr.rpartition("@")[2]
        msgid = msgid or self._next_id(domain)
        inbound = folder != "Sent"
        delivered = when + timedelta(seconds=rng.randint(2, 90)) if inbound else when
        if delivered >= self.now:
            return msgid  # not arrived yet at `now`: the thread simply ends earlier
        headers: list[str] = []
        if inbound:
            headers.append(f"Return-Path: <{sender.addr}>")
            headers.extend(_received(rng, delivered, domain))
            if rng.random() < 0.5:
                headers.append(_dkim(rng, domain))
        headers += [
            f"Date: {fmt_date(when)}",
            f"From: {fmt_addr(sender)}",
            "To: " + ",\n ".join(fmt_addr(p) for p in to),
        ]
        if cc:
            headers.append("Cc: " + ",\n ".join(fmt_addr(p) for p in cc))
        headers.append(f"Subject: {encode_text(subject, subject_style or sender.style)}")
        headers.append(f"Message-ID: {msgid}")
        if in_reply_to:
            headers.append(f"In-Reply-To: {in_reply_to}")
        if references:
            headers.append("References: " + "\n ".join(references))
        headers += ["MIME-Version: 1.0", *extra]
        if charset is None:
            charset = "GBK" if sender.style in ("gbkb", "gb2312b") else "utf-8"
        if not any(h.lower().startswith("content-type:") for h in extra):
            part_headers, payload = _text_body(body, charset)
            headers += part_headers
        else:
            payload = body.encode("utf-8")
        if mailer:
            headers.append(
                "X-Mailer: "
                + rng.choice(
                    ("Foxmail 7.2.25.228[cn]", "Microsoft Outlook 16.0", "Apple Mail (2.3774)")
                )
            )
        data = _assemble(headers, payload)
        self.out.put(folder, delivered, data, kind, seen=seen)
        return msgid

    # the story

    def build(self) -> Summary:
        rng = self.rng
        contacts = [self._person() for _ in range(max(1, round(self.n * 0.20)))]
        threads = max(1, round(self.n * 0.22))
        self.out.summary.contacts = len(contacts)
        self.out.summary.threads = threads
        for t in range(threads):
            contact = contacts[t] if t < len(contacts) else rng.choice(contacts)
            self._thread(contact)
        news_target = round(self.n * 0.30)
        for _ in range(news_target):
            self._newsletter()
        colleagues = [
            Person(name, f"{local}@{INTERNAL_DOMAIN}", not name.isascii(), "utf8b")
            for name, local in _COLLEAGUES
        ]
        guard = 0
        while self.out.summary.messages < self.n and guard < self.n * 3:
            guard += 1
            self._colleague(colleagues)
        return self.out.summary

    def _thread(self, contact: Person) -> None:
        rng = self.rng
        if contact.zh:
            client, title = rng.choice(_CLIENTS_ZH), rng.choice(_TITLES_ZH)
            subject = rng.choice(
                (
                    f"{client}{title}职位机会",
                    f"【猎头推荐】{client} - {title}",
                    f"关于{title}的机会，想和您聊聊",
                    f"{client}正在招聘{title}，诚邀您了解（年薪面议，base上海/北京）",
                )
            )
            body = (
                f"{contact.name}您好，\n\n我是TalentBridge的猎头顾问李娜。{client}正在招聘{title}，"
                "团队规模和发展空间都很不错，我觉得您的背景非常匹配。\n"
                "不知道您最近是否考虑新的机会？方便的话可以约个时间电话沟通。\n\n"
                "祝好！\n李娜\nTalentBridge 高级顾问\n手机：138-0000-1234\n"
            )
        else:
            client, title = rng.choice(_CLIENTS_EN), rng.choice(_TITLES_EN)
            subject = rng.choice(
                (
                    f"Opportunity: {title} at {client}",
                    f"{title} role - {client}",
                    f"Quick question about your next move ({title})",
                )
            )
            body = (
                f"Hi {contact.name.split()[0]},\n\nI'm Lina from TalentBridge. "
                f"{client} is hiring a {title} and your background looks like a strong fit.\n"
                "Would you be open to a short call this week?\n\n"
                "Best regards,\nLina Li\nSenior Consultant, TalentBridge\n"
            )
        subj_style = "utf8b" if rng.random() < 0.8 else "gbkb"
        replied = rng.random() < 0.42
        bounced = rng.random() < 0.027
        outreach = 1
        if not bounced and rng.random() < 0.4:
            outreach += 1
            if rng.random() < 0.4:
                outreach += 1
        reply_after = 0 if not replied or bounced else (0 if rng.random() < 0.75 else outreach - 1)
        if replied and not bounced:
            outreach = reply_after + 1
        when = self._when()
        chain: list[str] = []
        last_id = ""
        for k in range(outreach):
            if k:
                when += timedelta(days=rng.uniform(3, 6), minutes=rng.randint(0, 600))
            subj = subject if k == 0 else rng.choice(("Re: ", "跟进：", "Following up: ")) + subject
            last_id = self._message(
                folder="Sent", kind="outreach", sender=self.me, to=[contact], subject=subj,
                when=when, body=body if k == 0 else "跟进一下之前的邮件，期待您的回复。\n\n" + body,
                subject_style=subj_style, in_reply_to=chain[-1] if chain else None,
                references=chain[-10:], charset="utf-8",
            )  # fmt: skip
            chain.append(last_id)
            if k == 0 and bounced:
                self._bounce(contact, subject, last_id, when)
                return
            if rng.random() < 0.05:
                self._auto_reply(contact, subj, last_id, when)
        if replied:
            self.out.summary.replied_threads += 1
            self._conversation(contact, subject, chain, when)

    def _conversation(
        self, contact: Person, subject: str, chain: list[str], when: datetime
    ) -> None:
        rng = self.rng
        folder = "Archive" if rng.random() < 0.3 else "INBOX"
        prefix = rng.choice(("Re: ", "RE: ", "回复：", "答复: ")) if contact.zh else "Re: "
        when += timedelta(hours=rng.expovariate(1 / 30))
        text = (
            rng.choice(
                (
                    "李顾问您好，谢谢联系。我对这个机会挺感兴趣，周四下午可以通话。附件是我最新的简历。",
                    "您好，谢谢您的邮件。我目前暂时没有换工作的打算，以后有合适的机会再联系。",
                    "Hi Lina, thanks for reaching out. Happy to chat - Thursday 3pm works for me.",
                    "Thanks, but I'm not looking right now. Please keep me in mind for later.",
                )
            )
            + "\n\n"
            + "".join(f"> {line}\n" for line in ("On the earlier mail, Lina wrote:", subject))
        )
        reply_id = self._message(
            folder=folder, kind="reply", sender=contact, to=[self.me], subject=prefix + subject,
            when=when, body=text, in_reply_to=chain[-1], references=chain[-10:],
            seen=rng.random() < 0.9,
        )  # fmt: skip
        chain.append(reply_id)
        if rng.random() < 0.3:
            when += timedelta(hours=rng.uniform(1, 20))
            mine = self._message(
                folder="Sent", kind="answer", sender=self.me, to=[contact],
                subject="Re: " + subject, when=when, in_reply_to=reply_id,
                references=chain[-10:], body="好的，我来安排。周四下午三点给您打电话。\n\n李娜\n",
            )  # fmt: skip
            chain.append(mine)
            if rng.random() < 0.5:
                when += timedelta(hours=rng.expovariate(1 / 20))
                self._message(
                    folder=folder, kind="reply", sender=contact, to=[self.me],
                    subject=prefix + subject, when=when, in_reply_to=mine,
                    references=chain[-10:], body="好的，谢谢！\n",
                )  # fmt: skip

    def _auto_reply(self, contact: Person, subject: str, orig: str, when: datetime) -> None:
        rng = self.rng
        back = when + timedelta(days=rng.randint(2, 14))
        variant = rng.randrange(4)
        extra: list[str] = []
        if variant == 0:  # Exchange / Outlook
            subj = f"Automatic reply: {subject}"
            extra = [
                "Auto-Submitted: auto-generated",
                "X-Auto-Response-Suppress: All",
                f"X-MS-Exchange-Inbox-Rules-Loop: {contact.addr}",
            ]
            text = rng.choice(_OOO_EN).format(month=_MONTHS[back.month - 1], d=back.day)
        elif variant == 1:  # Tencent exmail / QQ holiday reply
            subj = f"自动回复: {subject}"
            extra = ["Auto-Submitted: auto-replied", "X-QQ-HolidayReply: 1"]
            text = rng.choice(_OOO_ZH).format(m=back.month, d=back.day)
        elif variant == 2:  # Gmail vacation responder
            subj = f"Out of Office: {subject}"
            extra = ["Auto-Submitted: auto-replied", "Precedence: bulk"]
            text = rng.choice(_OOO_EN).format(month=_MONTHS[back.month - 1], d=back.day)
        else:  # 163-style: only the subject says it
            subj = f"自动回复：{subject}"
            text = rng.choice(_OOO_ZH).format(m=back.month, d=back.day)
        self._message(
            folder="INBOX", kind="auto_reply", sender=contact, to=[self.me], subject=subj,
            when=when + timedelta(seconds=rng.randint(5, 300)), body=text,
            in_reply_to=orig if variant != 3 else None, extra=extra, seen=False,
        )  # fmt: skip

    def _bounce(self, contact: Person, subject: str, orig: str, when: datetime) -> None:
        rng = self.rng
        status, text = rng.choices(
            (
                ("5.1.1", "550 5.1.1 <{a}>: Recipient address rejected: User unknown"),
                ("5.2.2", "552 5.2.2 <{a}>: Mailbox full"),
                ("4.4.7", "Delivery delayed: connection timed out"),
            ),
            (80, 12, 8),
        )[0]
        text = text.format(a=contact.addr)
        zh = rng.random() < 0.35
        boundary = f"{rng.getrandbits(48):012X}.{int(when.timestamp())}/mail.{INTERNAL_DOMAIN}"
        mailer = Person(
            "系统退信" if zh else "Mail Delivery System",
            f"MAILER-DAEMON@mail.{INTERNAL_DOMAIN}",
            zh,
            "utf8b",
        )
        subj = "退信通知：" + subject if zh else "Undelivered Mail Returned to Sender"
        arrival = fmt_date(when)
        body = (
            f"This is a MIME-encapsulated message.\n\n--{boundary}\n"
            "Content-Description: Notification\nContent-Type: text/plain; charset=us-ascii\n\n"
            f"This is the mail system at host mail.{INTERNAL_DOMAIN}.\n\n"
            "I'm sorry to have to inform you that your message could not\n"
            "be delivered to one or more recipients.\n\n"
            f"<{contact.addr}>: host mx.{contact.addr.rpartition('@')[2]} said: {text}\n\n"
            f"--{boundary}\nContent-Description: Delivery report\n"
            "Content-Type: message/delivery-status\n\n"
            f"Reporting-MTA: dns; mail.{INTERNAL_DOMAIN}\nArrival-Date: {arrival}\n\n"
            f"Final-Recipient: rfc822; {contact.addr}\nOriginal-Recipient: rfc822;{contact.addr}\n"
            f"Action: {'delayed' if status.startswith('4') else 'failed'}\nStatus: {status}\n"
            f"Diagnostic-Code: smtp; {text}\n\n"
            f"--{boundary}\nContent-Description: Undelivered Message Headers\n"
            "Content-Type: text/rfc822-headers\n\n"
            f"From: {fmt_addr(self.me)}\nTo: {fmt_addr(contact)}\n"
            f"Subject: {encode_text(subject, 'utf8b')}\nMessage-ID: {orig}\nDate: {arrival}\n\n"
            f"--{boundary}--\n"
        )
        self._message(
            folder="INBOX", kind="bounce", sender=mailer, to=[self.me], subject=subj,
            when=when + timedelta(seconds=rng.randint(3, 3600)), body=body,
            extra=[
                "Auto-Submitted: auto-replied",
                "Content-Type: multipart/report; report-type=delivery-status;\n"
                f'\tboundary="{boundary}"',
            ],
            seen=False, mailer=False,
        )  # fmt: skip

    def _newsletter(self) -> None:
        rng = self.rng
        name, addr, list_id = rng.choice(_NEWSLETTERS)
        sender = Person(name, addr, not name.isascii(), "utf8b")
        domain = addr.rpartition("@")[2]
        topic = rng.choice(
            (
                "本周人才市场报告",
                "2026年薪酬趋势",
                "招聘官必读：AI面试工具盘点",
                "The week in talent acquisition",
                "5 sourcing tricks for passive candidates",
                "Your weekly digest",
                "新职位推荐：38个高管岗位",
                "Trending in HR tech",
            )
        )
        boundary = f"=_nl_{rng.getrandbits(40):010x}"
        para = (
            '<p style="font-family:Arial;font-size:14px;color:#333">'
            + (
                "人才市场动态与行业洞察，" * 12
                if sender.zh
                else "Market insight and hiring news. " * 10
            )
            + "</p>\n"
        )
        html = (
            '<html><body><table width="600">' + para * rng.randint(6, 14) + "</table></body></html>"
        )
        text = (
            "View this email in your browser: https://" + domain + "/v/" + str(rng.getrandbits(32))
        )
        body = (
            f"--{boundary}\nContent-Type: text/plain; charset=utf-8\n"
            "Content-Transfer-Encoding: 8bit\n\n"
            f"{text}\n\n--{boundary}\nContent-Type: text/html; charset=utf-8\n"
            "Content-Transfer-Encoding: 8bit\n\n"
            f"{html}\n--{boundary}--\n"
        )
        extra = [
            f"List-Id: {encode_text(name, 'utf8b')} <{list_id}>",
            f"List-Unsubscribe: <mailto:unsubscribe@{domain}?subject=unsub>,\n"
            f" <https://{domain}/u/{rng.getrandbits(64):x}>",
            "List-Unsubscribe-Post: List-Unsubscribe=One-Click",
            f"Feedback-ID: {rng.randint(1, 99)}:newsletter:{domain}",
            f'Content-Type: multipart/alternative; boundary="{boundary}"',
        ]
        if rng.random() < 0.5:
            extra.append("Precedence: bulk")
        self._message(
            folder="Newsletters" if rng.random() < 0.8 else "INBOX", kind="newsletter",
            sender=sender, to=[self.me], subject=topic, when=self._when(), body=body,
            extra=extra, seen=rng.random() < 0.4, mailer=False,
        )  # fmt: skip

    def _colleague(self, colleagues: Sequence[Person]) -> None:
        rng = self.rng
        mate = rng.choice(colleagues)
        others = rng.sample(list(colleagues), 2)
        candidate = self._person_name()
        subject = rng.choice(
            (
                f"候选人简历 - {candidate}",
                "本周例会纪要",
                f"客户{rng.choice(_CLIENTS_ZH)}需求更新",
                f"Shortlist for {rng.choice(_TITLES_EN)}",
                f"Offer approval: {candidate}",
                "季度业绩目标和佣金结算",
            )
        )
        when = self._when()
        if rng.random() < 0.2:
            self._message(
                folder="Sent", kind="colleague", sender=self.me, to=[mate], subject=subject,
                when=when, body="收到，我今天下午整理好发给你。\n\n李娜\n", cc=others[:1],
            )  # fmt: skip
            return
        self._message(
            folder="Archive" if rng.random() < 0.4 else "INBOX", kind="colleague",
            sender=mate, to=[self.me], subject=subject, when=when, cc=others,
            body="Lina，附件是候选人的简历和面试反馈，麻烦看一下，周五前给客户答复。\n\n谢谢\n",
            seen=rng.random() < 0.85,
        )  # fmt: skip

    def _person_name(self) -> str:
        sur, _ = self.rng.choice(_SURNAMES)
        giv, _ = self.rng.choice(_GIVEN)
        return sur + giv


def generate(
    root: Path,
    messages: int,
    *,
    seed: int = SEED,
    now: datetime = NOW,
    days: int = DAYS,
) -> Summary:
    """Write a mailbox of exactly `messages` messages (Maildir++) under `root`."""
    return Mailbox(root, messages, seed=seed, now=now, days=days).build()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--out", type=Path, required=True, help="the Maildir root to create")
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args()
    summary = generate(args.out, args.messages, seed=args.seed)
    print(
        f"{summary.messages} messages, {summary.bytes / 1e6:.1f} MB; "
        f"folders {dict(summary.per_folder)}; kinds {dict(summary.per_kind)}"
    )


if __name__ == "__main__":
    main()
