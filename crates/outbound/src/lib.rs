//! Putting things on the wire: e-mail over SMTP ([`mail`]) from templates with merge
//! fields ([`template`]), webhook deliveries signed as the Standard Webhooks
//! specification says ([`webhook`]), messages to the group robots of WeCom, DingTalk and
//! Feishu ([`robots`]), text messages (SMS, WeChat) through a configurable HTTP
//! provider ([`messaging`]), and the bounce address, where the reports on sent mail come back
//! ([`bounce`]).
//!
//! Every call is one attempt: retries, backoff and delivery logs belong to the job queue
//! that calls this crate, which is why every outcome says whether trying again can help.
//! The crate knows nothing of the store; of the domain it uses only the templates.

pub mod bounce;
pub mod mail;
pub mod messaging;
pub mod robots;
pub mod tracking;
pub mod webhook;

/// Templates live in the domain, which checks their merge fields when one is saved.
pub use guanxi_domain::mail_template as template;

mod tls;

pub use bounce::{BounceListener, Received, Report, ReportKind, parse_reports};
pub use mail::{Address, Category, MailError, Mailer, OutgoingMail, Security, Sent, SmtpConfig};
pub use messaging::{
    HttpProvider, HttpProviderConfig, ProviderError, Receipt, SignatureEncoding, TextMessage,
    TextProvider,
};
pub use robots::{Robot, RobotError, RobotKind, RobotMessage, RobotRequest};
pub use template::{MailTemplate, Part, Rendered, TemplateError};
pub use webhook::{
    Deliverer, DeliveryOutcome, Endpoint, EndpointError, SecretError, Verdict, WebhookSecret,
};
