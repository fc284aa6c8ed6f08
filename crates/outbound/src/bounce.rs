//! The bounce address: the reports that come back about mail we sent.
//!
//! [`parse_reports`] reads the two machine-readable kinds: delivery status notifications
//! (RFC 3464, which every MTA sends when a message cannot be delivered or is delayed) and
//! abuse complaints in the Abuse Reporting Format (RFC 5965, the mailbox providers'
//! feedback loops). Each report carries the returned original's Message-ID, which is how
//! the caller finds the send it is about. Anyone can write to a bounce address, so a
//! report should only count when that Message-ID is one of ours and, for a bounce, the
//! recipient is the one that send went to.
//!
//! [`BounceListener`] is the SMTP server that receives them.

mod listener;

pub use listener::{BounceListener, Received, serve};

use mail_parser::{Message, MessageParser, MessagePart, MimeHeaders, PartType};

/// One report about one recipient of a message we sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub kind: ReportKind,
    /// The address the report is about, lowercased. Always set for a bounce; empty for a
    /// complaint whose provider redacted it (several do): the send found through
    /// `original_message_id` names it.
    pub recipient: String,
    /// The returned original's Message-ID without its angle brackets.
    pub original_message_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReportKind {
    /// The message was not delivered to the recipient (`Action: failed`) or not yet
    /// (`delayed`). Only a failure with a 5.x.x status is `permanent`: a 4.x.x one (a
    /// queue that gave up on a server that never answered) may work another day.
    Bounce {
        permanent: bool,
        /// The enhanced status code, as `5.1.1`.
        status: String,
        /// What the remote server said, without the `smtp;` type.
        diagnostic: Option<String>,
    },
    /// The recipient reported the message, with the lowercased `Feedback-Type`
    /// (`abuse`, `fraud`, `virus`, `other`, even `not-spam`).
    Complaint { feedback_type: String },
}

/// The reports in a message received at the bounce address: one per recipient that was
/// not delivered, or one per complaint. Empty for anything that is not a
/// `multipart/report` (auto-replies, spam, garbage) and for reports of success.
pub fn parse_reports(raw: &[u8]) -> Vec<Report> {
    let Some(message) = MessageParser::default().parse(raw) else {
        return Vec::new();
    };
    let is_report = message
        .parts
        .first()
        .is_some_and(|root| root.is_content_type("multipart", "report"));
    if !is_report {
        return Vec::new();
    }
    // The parts of the top-level tree, flattened: an MTA that wraps its explanation in a
    // multipart/alternative (Gmail does) still has the report beside it.
    let (mut status, mut feedback, mut original) = (None, None, None);
    for part in message.parts.iter().skip(1) {
        let Some(ct) = part.content_type() else {
            continue;
        };
        let subtype = ct.subtype().unwrap_or_default().to_ascii_lowercase();
        match (ct.ctype().to_ascii_lowercase().as_str(), subtype.as_str()) {
            ("message", "delivery-status" | "global-delivery-status") => {
                status.get_or_insert_with(|| field_groups(part.contents()));
            }
            ("message", "feedback-report") => {
                feedback.get_or_insert_with(|| field_groups(part.contents()));
            }
            ("message", "rfc822" | "global") | ("text", "rfc822-headers") => {
                original.get_or_insert_with(|| Original::of(part));
            }
            _ => {}
        }
    }
    let original = original.unwrap_or_default();
    let mut reports = Vec::new();
    if let Some(groups) = status {
        // The first group is about the message, the others each about a recipient; an
        // MTA that leaves out the first is still read, by looking for recipients.
        for group in &groups {
            if let Some(report) = bounce(group, &original) {
                reports.push(report);
            }
        }
    } else if let Some(groups) = feedback {
        let fields: Vec<_> = groups.into_iter().flatten().collect();
        let feedback_type = field(&fields, "feedback-type")
            .unwrap_or("other")
            .to_ascii_lowercase();
        let mut recipients: Vec<String> = fields
            .iter()
            .filter(|(name, _)| name == "original-rcpt-to")
            .map(|(_, value)| address(value))
            .filter(|a| !a.is_empty())
            .collect();
        if recipients.is_empty() {
            recipients.push(original.to.clone().unwrap_or_default());
        }
        reports.extend(recipients.into_iter().map(|recipient| Report {
            kind: ReportKind::Complaint {
                feedback_type: feedback_type.clone(),
            },
            recipient,
            original_message_id: original.message_id.clone(),
        }));
    }
    reports
}

/// A recipient's group of a delivery-status, as a report if it is a failure or a delay.
fn bounce(group: &[(String, String)], original: &Original) -> Option<Report> {
    // Original-Recipient is the address we sent to, before any forwarding; it is in
    // xtext (RFC 3461), as we may have given it.
    let recipient = field(group, "original-recipient")
        .map(|r| address(&xtext(r)))
        .filter(|a| !a.is_empty())
        .or_else(|| field(group, "final-recipient").map(address))
        .filter(|a| !a.is_empty())?;
    let status = field(group, "status")
        .and_then(|s| s.split_whitespace().next())
        .unwrap_or_default()
        .to_string();
    // Action is required, but an MTA that forgets it has still said enough by the status.
    let action = match field(group, "action") {
        Some(action) => action
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase(),
        None if status.starts_with('5') => "failed".into(),
        None if status.starts_with('4') => "delayed".into(),
        None => return None,
    };
    let permanent = match action.as_str() {
        "failed" => status.starts_with('5'),
        "delayed" => false,
        _ => return None,
    };
    let diagnostic = field(group, "diagnostic-code")
        .map(|d| without_type(d).to_string())
        .filter(|d| !d.is_empty());
    Some(Report {
        kind: ReportKind::Bounce {
            permanent,
            status,
            diagnostic,
        },
        recipient,
        original_message_id: original.message_id.clone(),
    })
}

/// What the returned original tells: its Message-ID, and for complaints its recipient.
#[derive(Default)]
struct Original {
    message_id: Option<String>,
    to: Option<String>,
}

impl Original {
    /// A `message/rfc822` part is a message mail-parser has parsed already; headers
    /// alone (`text/rfc822-headers`), or an original it could not parse, are read again.
    fn of(part: &MessagePart<'_>) -> Original {
        match &part.body {
            PartType::Message(message) => Original::from_message(message),
            _ => MessageParser::default()
                .parse_headers(part.contents())
                .map(|m| Original::from_message(&m))
                .unwrap_or_default(),
        }
    }

    fn from_message(message: &Message<'_>) -> Original {
        let message_id = message
            .message_id()
            .map(|id| id.trim().trim_start_matches('<').trim_end_matches('>'))
            .filter(|id| !id.is_empty())
            .map(str::to_string);
        let to = message
            .to()
            .and_then(|to| to.first())
            .and_then(|addr| addr.address())
            .map(address)
            .filter(|a| a.contains('@'));
        Original { message_id, to }
    }
}

/// The groups of `Name: value` fields of a report part, separated by blank lines, with
/// names lowercased and folded lines joined. Whatever does not look like a field is
/// skipped.
fn field_groups(body: &[u8]) -> Vec<Vec<(String, String)>> {
    let text = String::from_utf8_lossy(body);
    let mut groups = Vec::new();
    let mut group: Vec<(String, String)> = Vec::new();
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.trim().is_empty() {
            if !group.is_empty() {
                groups.push(std::mem::take(&mut group));
            }
        } else if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = group.last_mut() {
                value.push(' ');
                value.push_str(line.trim());
            }
        } else if let Some((name, value)) = line.split_once(':') {
            group.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
        }
    }
    if !group.is_empty() {
        groups.push(group);
    }
    groups
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, value)| value.as_str())
}

/// `rfc822; smtp; 550 ...` → `550 ...`: the value after its type, when it has one.
fn without_type(value: &str) -> &str {
    match value.split_once(';') {
        Some((kind, rest)) if !kind.contains(['@', ' ', '<']) && !kind.is_empty() => rest.trim(),
        _ => value.trim(),
    }
}

/// `rfc822; <Someone@Example.com>` → `someone@example.com`.
fn address(value: &str) -> String {
    let value = without_type(value);
    value
        .strip_prefix('<')
        .and_then(|v| v.strip_suffix('>'))
        .unwrap_or(value)
        .trim()
        .to_lowercase()
}

/// Decodes RFC 3461 xtext: `+2B` is `+`.
fn xtext(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'+', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn crlf(text: &str) -> Vec<u8> {
        text.replace('\n', "\r\n").into_bytes()
    }

    fn bounce_of(report: &Report) -> (bool, &str, Option<&str>) {
        match &report.kind {
            ReportKind::Bounce {
                permanent,
                status,
                diagnostic,
            } => (*permanent, status, diagnostic.as_deref()),
            other => panic!("not a bounce: {other:?}"),
        }
    }

    /// Postfix's bounce for two recipients of one message, with the original returned.
    const POSTFIX: &str = r#"Return-Path: <>
Received: by mail.example.org (Postfix)
	id 4ZX1Y2Z3Q; Tue, 10 Jun 2025 09:12:01 +0800 (CST)
Date: Tue, 10 Jun 2025 09:12:01 +0800 (CST)
From: MAILER-DAEMON@mail.example.org (Mail Delivery System)
Subject: Undelivered Mail Returned to Sender
To: bounces@guanxi.example.org
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
	boundary="4ZX1Y2Z3Q.1749517921/mail.example.org"
Content-Transfer-Encoding: 8bit
Message-Id: <20250610011201.4ZX1Y2Z3Q@mail.example.org>

This is a MIME-encapsulated message.

--4ZX1Y2Z3Q.1749517921/mail.example.org
Content-Description: Notification
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: 8bit

This is the mail system at host mail.example.org.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients. It's attached below.

<zhang.wei@example.com>: host mx.example.com[203.0.113.5] said: 550 5.1.1
    <zhang.wei@example.com>: Recipient address rejected: User unknown in
    virtual mailbox table (in reply to RCPT TO command)

--4ZX1Y2Z3Q.1749517921/mail.example.org
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; mail.example.org
X-Postfix-Queue-ID: 4ZX1Y2Z3Q
X-Postfix-Sender: rfc822; bounces@guanxi.example.org
Arrival-Date: Tue, 10 Jun 2025 09:11:58 +0800 (CST)

Final-Recipient: rfc822; zhang.wei@example.com
Original-Recipient: rfc822;Zhang.Wei@example.com
Action: failed
Status: 5.1.1
Remote-MTA: dns; mx.example.com
Diagnostic-Code: smtp; 550 5.1.1 <zhang.wei@example.com>: Recipient address
    rejected: User unknown in virtual mailbox table

Final-Recipient: rfc822; li.na@example.com
Original-Recipient: rfc822;li.na+news@example.com
Action: failed
Status: 5.2.2
Remote-MTA: dns; mx.example.com
Diagnostic-Code: smtp; 552 5.2.2 Mailbox full

--4ZX1Y2Z3Q.1749517921/mail.example.org
Content-Description: Undelivered Message
Content-Type: message/rfc822
Content-Transfer-Encoding: 8bit

Return-Path: <bounces@guanxi.example.org>
From: Sales <sales@guanxi.example.org>
To: zhang.wei@example.com, li.na+news@example.com
Subject: Spring offer
Message-ID: <job-0196a1@guanxi.example.org>
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8

Hello, here is our spring offer.

--4ZX1Y2Z3Q.1749517921/mail.example.org--
"#;

    /// Exim's, returning only the original's headers; field names in any case.
    const EXIM: &str = r#"Received: from Debian-exim by mx1.example.net with local (Exim 4.96)
	id 1uOa9x-0004Qd-2K
	for bounces@guanxi.example.org; Tue, 10 Jun 2025 02:14:09 +0000
X-Failed-Recipients: wang.fang@example.net
Auto-Submitted: auto-replied
From: Mail Delivery System <Mailer-Daemon@mx1.example.net>
To: bounces@guanxi.example.org
Content-Type: multipart/report; report-type=delivery-status; boundary=1749521649-eximdsn-1804289383
MIME-Version: 1.0
Subject: Mail delivery failed: returning message to sender
Message-Id: <E1uOa9x-0004Qd-2K@mx1.example.net>
Date: Tue, 10 Jun 2025 02:14:09 +0000

--1749521649-eximdsn-1804289383
Content-type: text/plain; charset=us-ascii

This message was created automatically by mail delivery software.

A message that you sent could not be delivered to one or more of its
recipients. This is a permanent error. The following address(es) failed:

  wang.fang@example.net
    mailbox is full: retry timeout exceeded

--1749521649-eximdsn-1804289383
Content-type: message/delivery-status

Reporting-MTA: dns; mx1.example.net

action: failed
final-recipient: rfc822;Wang.Fang@Example.NET
STATUS: 5.0.0
X-Exim-Diagnostic: X-str; mailbox is full

--1749521649-eximdsn-1804289383
Content-type: text/rfc822-headers

Return-path: <bounces@guanxi.example.org>
From: Sales <sales@guanxi.example.org>
To: wang.fang@example.net
Subject: Spring offer
Message-ID: <job-0196a2@guanxi.example.org>

--1749521649-eximdsn-1804289383--
"#;

    /// Gmail's: the explanation in a multipart/alternative, a folded diagnostic.
    pub(super) const GMAIL: &str = r#"Delivered-To: bounces@guanxi.example.org
From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>
To: bounces@guanxi.example.org
Auto-Submitted: auto-replied
Subject: Delivery Status Notification (Failure)
Message-ID: <684795f2.050a0220.3a5c1.0001.GMR@mx.google.com>
Date: Mon, 09 Jun 2025 19:20:34 -0700 (PDT)
MIME-Version: 1.0
Content-Type: multipart/report; boundary="000000000000c3d1a10637311f01"; report-type=delivery-status

--000000000000c3d1a10637311f01
Content-Type: multipart/related; boundary="000000000000c3d21d0637311f05"

--000000000000c3d21d0637311f05
Content-Type: multipart/alternative; boundary="000000000000c3d21e0637311f06"

--000000000000c3d21e0637311f06
Content-Type: text/plain; charset="UTF-8"

Address not found
Your message wasn't delivered to chen.jie@gmail.com because the address couldn't be found.

--000000000000c3d21e0637311f06
Content-Type: text/html; charset="UTF-8"

<html><body><h1>Address not found</h1></body></html>

--000000000000c3d21e0637311f06--
--000000000000c3d21d0637311f05--
--000000000000c3d1a10637311f01
Content-Type: message/delivery-status

Reporting-MTA: dns; googlemail.com
Received-From-MTA: dns; sales@guanxi.example.org
Arrival-Date: Mon, 09 Jun 2025 19:20:33 -0700 (PDT)
X-Original-Message-ID: <job-0196a3@guanxi.example.org>

Final-Recipient: rfc822; chen.jie@gmail.com
Action: failed
Status: 5.1.1
Remote-MTA: dns; gmail-smtp-in.l.google.com. (142.250.157.27, the server for
 the domain gmail.com.)
Diagnostic-Code: smtp; 550-5.1.1 The email account that you tried to reach does
 not exist. Please try
 550-5.1.1 double-checking the recipient's email address for typos or
 550 5.1.1 unnecessary spaces. https://support.google.com/mail/?p=NoSuchUser
Last-Attempt-Date: Mon, 09 Jun 2025 19:20:34 -0700 (PDT)

--000000000000c3d1a10637311f01
Content-Type: message/rfc822

From: Sales <sales@guanxi.example.org>
To: chen.jie@gmail.com
Subject: Spring offer
Message-ID: <job-0196a3@guanxi.example.org>
Content-Type: text/plain; charset="UTF-8"

Hello, here is our spring offer.

--000000000000c3d1a10637311f01--
"#;

    /// Postfix's warning that a message is still queued.
    const DELAYED: &str = r#"From: MAILER-DAEMON@mail.example.org (Mail Delivery System)
Subject: Delayed Mail (still being retried)
To: bounces@guanxi.example.org
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
	boundary="5AB12C3D4.1749531121/mail.example.org"
Message-Id: <20250610045201.5AB12C3D4@mail.example.org>

--5AB12C3D4.1749531121/mail.example.org
Content-Description: Notification
Content-Type: text/plain; charset=us-ascii

This is the mail system at host mail.example.org.

####################################################################
# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #
####################################################################

--5AB12C3D4.1749531121/mail.example.org
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; mail.example.org
Arrival-Date: Tue, 10 Jun 2025 08:50:00 +0800 (CST)

Final-Recipient: rfc822; liu.yang@example.cn
Action: delayed
Status: 4.4.1
Diagnostic-Code: X-Postfix; connect to mx.example.cn[198.51.100.7]:25: Connection
    timed out
Will-Retry-Until: Sat, 14 Jun 2025 08:50:00 +0800 (CST)

--5AB12C3D4.1749531121/mail.example.org
Content-Description: Undelivered Message Headers
Content-Type: text/rfc822-headers

From: Sales <sales@guanxi.example.org>
To: liu.yang@example.cn
Subject: Spring offer
Message-ID: <job-0196a4@guanxi.example.org>

--5AB12C3D4.1749531121/mail.example.org--
"#;

    /// RFC 5965 appendix B.2 (the extended report), about a message of ours.
    const ARF: &str = r#"From: <abusedesk@example.com>
Date: Thu, 8 Mar 2005 17:40:36 EDT
Subject: FW: Earn money
To: <abuse@example.net>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report;
     boundary="part1_13d.2e68ed54_boundary"

--part1_13d.2e68ed54_boundary
Content-Type: text/plain; charset="US-ASCII"
Content-Transfer-Encoding: 7bit

This is an email abuse report for an email message received from IP
192.0.2.1 on Thu, 8 Mar 2005 14:00:00 EDT.  For more information
about this format please see http://www.mipassoc.org/arf/.

--part1_13d.2e68ed54_boundary
Content-Type: message/feedback-report

Feedback-Type: abuse
User-Agent: SomeGenerator/1.0
Version: 1
Original-Mail-From: <bounces@guanxi.example.org>
Original-Rcpt-To: <User@example.com>
Received-Date: Thu, 8 Mar 2005 14:00:00 EDT
Source-IP: 192.0.2.1
Authentication-Results: mail.example.com;
               spf=pass smtp.mail=bounces@guanxi.example.org
Reported-Domain: guanxi.example.org

--part1_13d.2e68ed54_boundary
Content-Type: message/rfc822
Content-Disposition: inline

Received: from mailserver.guanxi.example.org
        (mailserver.guanxi.example.org [192.0.2.1])
        by example.com with ESMTP id M63d4137594e46;
        Thu, 08 Mar 2005 14:00:00 -0400
From: <sales@guanxi.example.org>
To: <user@example.com>
Subject: Earn money
MIME-Version: 1.0
Content-type: text/plain
Message-ID: <job-0196a5@guanxi.example.org>
Date: Thu, 02 Sep 2004 12:31:03 -0500

Spam Spam Spam
--part1_13d.2e68ed54_boundary--
"#;

    #[test]
    fn postfix_reports_each_recipient_by_the_address_we_sent_to() {
        let reports = parse_reports(&crlf(POSTFIX));
        assert_eq!(reports.len(), 2);
        assert_eq!(reports[0].recipient, "zhang.wei@example.com");
        assert_eq!(reports[1].recipient, "li.na+news@example.com");
        for r in &reports {
            assert_eq!(
                r.original_message_id.as_deref(),
                Some("job-0196a1@guanxi.example.org")
            );
        }
        assert_eq!(
            bounce_of(&reports[0]),
            (
                true,
                "5.1.1",
                Some(
                    "550 5.1.1 <zhang.wei@example.com>: Recipient address rejected: \
                     User unknown in virtual mailbox table"
                )
            )
        );
        assert_eq!(
            bounce_of(&reports[1]),
            (true, "5.2.2", Some("552 5.2.2 Mailbox full"))
        );
        // Line ends are not what decides.
        assert_eq!(parse_reports(POSTFIX.as_bytes()), reports);
    }

    #[test]
    fn exim_and_gmail_bounces() {
        let exim = parse_reports(&crlf(EXIM));
        assert_eq!(exim.len(), 1);
        assert_eq!(exim[0].recipient, "wang.fang@example.net");
        assert_eq!(bounce_of(&exim[0]), (true, "5.0.0", None));
        assert_eq!(
            exim[0].original_message_id.as_deref(),
            Some("job-0196a2@guanxi.example.org")
        );

        let gmail = parse_reports(&crlf(GMAIL));
        assert_eq!(gmail.len(), 1);
        assert_eq!(gmail[0].recipient, "chen.jie@gmail.com");
        let (permanent, status, diagnostic) = bounce_of(&gmail[0]);
        assert!(permanent);
        assert_eq!(status, "5.1.1");
        assert!(
            diagnostic.is_some_and(|d| d.starts_with("550-5.1.1 The email account")
                && d.contains("Please try 550-5.1.1 double-checking")
                && d.ends_with("?p=NoSuchUser"))
        );
        assert_eq!(
            gmail[0].original_message_id.as_deref(),
            Some("job-0196a3@guanxi.example.org")
        );
    }

    #[test]
    fn a_delay_is_not_permanent_and_success_is_no_bounce() {
        let delayed = parse_reports(&crlf(DELAYED));
        assert_eq!(delayed.len(), 1);
        assert_eq!(delayed[0].recipient, "liu.yang@example.cn");
        let (permanent, status, diagnostic) = bounce_of(&delayed[0]);
        assert_eq!((permanent, status), (false, "4.4.1"));
        assert_eq!(
            diagnostic,
            Some("connect to mx.example.cn[198.51.100.7]:25: Connection timed out")
        );
        assert_eq!(
            delayed[0].original_message_id.as_deref(),
            Some("job-0196a4@guanxi.example.org")
        );

        // A queue that gave up after temporary failures: failed, but not for good.
        let expired = DELAYED
            .replace("Action: delayed", "Action: failed")
            .replace("Status: 4.4.1", "Status: 4.4.7 (delivery time expired)");
        let expired = parse_reports(&crlf(&expired));
        let expired_diagnostic =
            Some("connect to mx.example.cn[198.51.100.7]:25: Connection timed out");
        assert_eq!(bounce_of(&expired[0]), (false, "4.4.7", expired_diagnostic));

        for action in ["delivered", "relayed", "expanded"] {
            let success = DELAYED
                .replace("Action: delayed", &format!("Action: {action}"))
                .replace("Status: 4.4.1", "Status: 2.0.0");
            assert_eq!(parse_reports(&crlf(&success)), vec![], "{action}");
        }
    }

    #[test]
    fn arf_complaints() {
        let reports = parse_reports(&crlf(ARF));
        assert_eq!(
            reports,
            vec![Report {
                kind: ReportKind::Complaint {
                    feedback_type: "abuse".into()
                },
                recipient: "user@example.com".into(),
                original_message_id: Some("job-0196a5@guanxi.example.org".into()),
            }]
        );
        // Without Original-Rcpt-To, the original's To names the recipient.
        let without = ARF.replace("Original-Rcpt-To: <User@example.com>\n", "");
        assert_eq!(parse_reports(&crlf(&without)), reports);
    }

    #[test]
    fn what_is_not_a_report_is_nothing() {
        let auto_reply = "From: Zhang Wei <zhang.wei@example.com>\nTo: bounces@guanxi.example.org\n\
            Subject: Out of office\nAuto-Submitted: auto-replied\nContent-Type: text/plain\n\n\
            I am away until Monday.\nFinal-Recipient: rfc822; x@example.com\nAction: failed\n";
        assert_eq!(parse_reports(&crlf(auto_reply)), vec![]);
        // A bounce forwarded as an attachment is not a report to us.
        let forwarded = "From: a@example.com\nContent-Type: multipart/mixed; boundary=b\n\n\
            --b\nContent-Type: text/plain\n\nsee below\n--b\nContent-Type: message/rfc822\n\n"
            .to_string()
            + POSTFIX
            + "\n--b--\n";
        assert_eq!(parse_reports(&crlf(&forwarded)), vec![]);
        assert_eq!(parse_reports(b""), vec![]);
        assert_eq!(parse_reports(b"\xff\xfe\x00garbage"), vec![]);
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(raw in proptest::collection::vec(any::<u8>(), 0..2048)) {
            parse_reports(&raw);
        }

        #[test]
        fn mutated_reports_never_panic(
            sample in 0..5usize,
            edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..16),
            cut in any::<prop::sample::Index>(),
        ) {
            let mut raw = crlf([POSTFIX, EXIM, GMAIL, DELAYED, ARF][sample]);
            for (at, byte) in edits {
                let i = at.index(raw.len());
                raw[i] = byte;
            }
            raw.truncate(cut.index(raw.len() + 1));
            parse_reports(&raw);
        }
    }
}
