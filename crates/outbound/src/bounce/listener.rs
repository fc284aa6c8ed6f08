//! The SMTP server the bounce address is: the subset of RFC 5321 that MTAs need to hand
//! us their reports. It has no STARTTLS and no AUTH, and relays nothing: it listens on
//! localhost or behind the organisation's MTA, which forwards the bounce address here.
//! Each accepted message goes into a channel; reading it ([`super::parse_reports`]) and
//! acting on it is the receiver's work.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::timeout;

/// A message the listener accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// The envelope sender; empty for the null sender `<>` that reports come from.
    pub mail_from: String,
    pub recipients: Vec<String>,
    /// The message as sent, dot-unstuffed, CRLF line ends included.
    pub data: Vec<u8>,
}

/// The listener's limits. [`BounceListener::new`] sets sensible ones.
#[derive(Debug, Clone)]
pub struct BounceListener {
    /// Named in the greeting and the EHLO reply.
    pub domain: String,
    /// Larger messages are refused with 552 (a report returns at most the original).
    pub max_message_size: usize,
    pub max_recipients: usize,
    /// Connections past this one are told 421 and closed, so the sending MTA retries.
    pub max_connections: usize,
    /// How long a client may take to send a command or a line of a message.
    pub idle_timeout: Duration,
}

/// Commands are at most 512 octets (RFC 5321 §4.5.3.1.4); extensions may add a little.
const MAX_COMMAND_LINE: usize = 1024;
/// After this many refused commands the client is sent away: no MTA needs so many.
const MAX_ERRORS: usize = 20;

impl BounceListener {
    pub fn new(domain: impl Into<String>) -> Self {
        BounceListener {
            domain: domain.into(),
            max_message_size: 10 * 1024 * 1024,
            max_recipients: 100,
            max_connections: 64,
            idle_timeout: Duration::from_secs(300),
        }
    }

    /// Accepts connections until `shutdown` completes or `sink`'s receiver is dropped,
    /// then drops the connections still open: a message whose 250 was not yet sent is
    /// the sending MTA's to retry. A message is acknowledged only once it is in `sink`.
    pub async fn serve(
        self,
        listener: TcpListener,
        sink: mpsc::Sender<Received>,
        shutdown: impl Future<Output = ()>,
    ) {
        let settings = Arc::new(self);
        let mut connections = JoinSet::new();
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                () = sink.closed() => break,
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) if open(&mut connections) >= settings.max_connections => {
                        // Best effort: a fresh socket's buffer takes a line without waiting.
                        let busy = format!("421 4.3.2 {} busy, try again later\r\n", settings.domain);
                        let _ = stream.try_write(busy.as_bytes());
                    }
                    Ok((stream, peer)) => {
                        let (settings, sink) = (settings.clone(), sink.clone());
                        connections.spawn(async move {
                            if let Err(e) = session(stream, &settings, &sink).await {
                                tracing::debug!(%peer, error = %e, "bounce listener: connection ended");
                            }
                        });
                    }
                    Err(e) => {
                        // Out of file descriptors and the like: wait rather than spin.
                        tracing::warn!(error = %e, "bounce listener: accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                },
            }
        }
    }
}

/// The connections still open, the ended ones reaped.
fn open(connections: &mut JoinSet<()>) -> usize {
    while let Some(ended) = connections.try_join_next() {
        if let Err(e) = ended {
            tracing::warn!(error = %e, "bounce listener: a connection task failed");
        }
    }
    connections.len()
}

/// [`BounceListener::serve`] with the default limits, until `sink`'s receiver is dropped.
pub async fn serve(listener: TcpListener, domain: String, sink: mpsc::Sender<Received>) {
    BounceListener::new(domain)
        .serve(listener, sink, std::future::pending())
        .await;
}

/// The envelope of the transaction under way.
struct Envelope {
    mail_from: String,
    recipients: Vec<String>,
}

async fn session(
    mut stream: TcpStream,
    settings: &BounceListener,
    sink: &mpsc::Sender<Received>,
) -> std::io::Result<()> {
    let (read, mut write) = stream.split();
    let mut reader = BufReader::new(read);
    let domain = &settings.domain;
    write
        .write_all(format!("220 {domain} ESMTP Guanxi bounces\r\n").as_bytes())
        .await?;
    let (mut greeted, mut envelope, mut errors) = (false, None::<Envelope>, 0);
    let mut line = Vec::new();
    loop {
        let read = timeout(
            settings.idle_timeout,
            read_line(&mut reader, &mut line, MAX_COMMAND_LINE),
        );
        let reply: String = match read.await {
            Err(_) => {
                let bye = format!("421 4.4.2 {domain} idle too long, closing\r\n");
                return write.write_all(bye.as_bytes()).await;
            }
            Ok(Err(e)) => return Err(e),
            Ok(Ok(Line::Eof)) => return Ok(()),
            Ok(Ok(Line::TooLong)) => "500 5.5.2 Line too long".into(),
            Ok(Ok(Line::Complete)) => {
                let text = String::from_utf8_lossy(&line);
                let text = text.trim_end_matches(['\r', '\n']);
                let (verb, arg) = text.split_once(' ').unwrap_or((text, ""));
                let arg = arg.trim();
                match verb.to_ascii_uppercase().as_str() {
                    "EHLO" | "HELO" if arg.is_empty() => "501 5.5.4 Say who you are".into(),
                    "EHLO" => {
                        (greeted, envelope) = (true, None);
                        let size = settings.max_message_size;
                        format!("250-{domain}\r\n250-SIZE {size}\r\n250 8BITMIME")
                    }
                    "HELO" => {
                        (greeted, envelope) = (true, None);
                        format!("250 {domain}")
                    }
                    "MAIL" if !greeted => "503 5.5.1 Send EHLO or HELO first".into(),
                    "MAIL" if envelope.is_some() => "503 5.5.1 Nested MAIL command".into(),
                    "MAIL" => match mail_from(arg, settings.max_message_size) {
                        Ok(mail_from) => {
                            envelope = Some(Envelope {
                                mail_from,
                                recipients: Vec::new(),
                            });
                            "250 2.1.0 OK".into()
                        }
                        Err(reply) => reply.into(),
                    },
                    "RCPT" => match (&mut envelope, path(arg, "TO:")) {
                        (None, _) => "503 5.5.1 Need MAIL first".into(),
                        (Some(_), None) => "501 5.1.3 Syntax: RCPT TO:<address>".into(),
                        (Some(_), Some((to, _))) if to.is_empty() => {
                            "501 5.1.3 Empty recipient".into()
                        }
                        (Some(e), Some(_)) if e.recipients.len() >= settings.max_recipients => {
                            "452 4.5.3 Too many recipients".into()
                        }
                        (Some(e), Some((to, _))) => {
                            e.recipients.push(to);
                            "250 2.1.5 OK".into()
                        }
                    },
                    "DATA" => match envelope.take() {
                        Some(e) if !e.recipients.is_empty() => {
                            write
                                .write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                                .await?;
                            match read_data(&mut reader, settings).await? {
                                Data::Timeout => {
                                    let bye =
                                        format!("421 4.4.2 {domain} idle too long, closing\r\n");
                                    return write.write_all(bye.as_bytes()).await;
                                }
                                Data::TooBig => "552 5.3.4 Message too big".into(),
                                Data::Message(data) => {
                                    let received = Received {
                                        mail_from: e.mail_from,
                                        recipients: e.recipients,
                                        data,
                                    };
                                    match sink.send(received).await {
                                        Ok(()) => "250 2.0.0 OK".into(),
                                        Err(_) => "451 4.3.0 Not taking mail now".into(),
                                    }
                                }
                            }
                        }
                        e => {
                            envelope = e;
                            "503 5.5.1 Need RCPT first".into()
                        }
                    },
                    "RSET" => {
                        envelope = None;
                        "250 2.0.0 OK".into()
                    }
                    "NOOP" => "250 2.0.0 OK".into(),
                    "VRFY" => "252 2.5.0 Will not VRFY, but will take the message".into(),
                    "QUIT" => {
                        let bye = format!("221 2.0.0 {domain} closing\r\n");
                        return write.write_all(bye.as_bytes()).await;
                    }
                    _ => "500 5.5.2 Command not recognized".into(),
                }
            }
        };
        if reply.starts_with('5') {
            errors += 1;
            if errors > MAX_ERRORS {
                let bye = format!("421 4.7.0 {domain} too many errors, closing\r\n");
                return write.write_all(bye.as_bytes()).await;
            }
        }
        write.write_all(format!("{reply}\r\n").as_bytes()).await?;
    }
}

/// `FROM:<address> PARAM=value ...`: the sender, or the reply that refuses it.
fn mail_from(arg: &str, max_size: usize) -> Result<String, &'static str> {
    let (from, params) = path(arg, "FROM:").ok_or("501 5.5.4 Syntax: MAIL FROM:<address>")?;
    for param in params.split_whitespace() {
        let (name, value) = param.split_once('=').unwrap_or((param, ""));
        match name.to_ascii_uppercase().as_str() {
            "SIZE" => match value.parse::<usize>() {
                Ok(size) if size > max_size => return Err("552 5.3.4 Message too big"),
                Ok(_) => {}
                Err(_) => return Err("501 5.5.4 Bad SIZE"),
            },
            "BODY"
                if ["7BIT", "8BITMIME"]
                    .iter()
                    .any(|b| value.eq_ignore_ascii_case(b)) => {}
            _ => return Err("555 5.5.4 Unsupported parameter"),
        }
    }
    Ok(from)
}

/// `TO:<address> params`, the keyword in any case, a space after the colon tolerated:
/// the address (without a source route) and the parameters.
fn path<'a>(arg: &'a str, keyword: &str) -> Option<(String, &'a str)> {
    let head = arg.get(..keyword.len())?;
    if !head.eq_ignore_ascii_case(keyword) {
        return None;
    }
    let rest = arg.get(keyword.len()..)?.trim_start().strip_prefix('<')?;
    let (address, params) = rest.split_once('>')?;
    let address = match address.strip_prefix('@') {
        Some(routed) => routed.split_once(':')?.1,
        None => address,
    };
    if address.contains(|c: char| c.is_whitespace() || c.is_control()) {
        return None;
    }
    Some((address.to_string(), params))
}

enum Line {
    Complete,
    /// Longer than allowed: read to its end and dropped.
    TooLong,
    /// The client went away.
    Eof,
}

/// Reads through the next LF into `line` (cleared first), holding at most `max` bytes.
async fn read_line<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    line: &mut Vec<u8>,
    max: usize,
) -> std::io::Result<Line> {
    line.clear();
    let mut too_long = false;
    loop {
        let available = reader.fill_buf().await?;
        if available.is_empty() {
            return Ok(Line::Eof);
        }
        let (n, done) = match available.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (available.len(), false),
        };
        if too_long || line.len() + n > max {
            too_long = true;
            line.clear();
        } else {
            line.extend_from_slice(&available[..n]);
        }
        reader.consume(n);
        if done {
            return Ok(if too_long {
                Line::TooLong
            } else {
                Line::Complete
            });
        }
    }
}

enum Data {
    Message(Vec<u8>),
    /// Read to its end and dropped.
    TooBig,
    Timeout,
}

/// The message after DATA, to the line that is a lone dot, dot-unstuffed. Memory stays
/// within the size limit: past it, lines are read and dropped.
async fn read_data<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    settings: &BounceListener,
) -> std::io::Result<Data> {
    let (mut data, mut line, mut too_big) = (Vec::new(), Vec::new(), false);
    loop {
        // A line may hold what is left of the limit, a stuffed dot and its CRLF.
        let max = match too_big {
            false => settings.max_message_size.saturating_sub(data.len()) + 3,
            true => MAX_COMMAND_LINE,
        };
        let read = timeout(settings.idle_timeout, read_line(reader, &mut line, max));
        match read.await {
            Err(_) => return Ok(Data::Timeout),
            Ok(Err(e)) => return Err(e),
            Ok(Ok(Line::Eof)) => {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            Ok(Ok(Line::TooLong)) => too_big = true,
            Ok(Ok(Line::Complete)) if line == b".\r\n" => {
                return Ok(if too_big {
                    Data::TooBig
                } else {
                    Data::Message(data)
                });
            }
            Ok(Ok(Line::Complete)) if !too_big => {
                data.extend_from_slice(line.strip_prefix(b".").unwrap_or(&line));
                if data.len() > settings.max_message_size {
                    too_big = true;
                    data = Vec::new();
                }
            }
            Ok(Ok(Line::Complete)) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bounce::{ReportKind, parse_reports, tests::GMAIL};
    use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor, address::Envelope};

    async fn start(settings: BounceListener) -> (u16, mpsc::Receiver<Received>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (sink, received) = mpsc::channel(8);
        tokio::spawn(settings.serve(listener, sink, std::future::pending()));
        (port, received)
    }

    /// One side of a raw SMTP conversation.
    struct Client(BufReader<TcpStream>);

    impl Client {
        async fn connect(port: u16) -> (Client, String) {
            let stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
            let mut client = Client(BufReader::new(stream));
            let greeting = client.reply().await;
            (client, greeting)
        }

        /// A whole reply, its lines joined with `|`; empty when the server closed.
        async fn reply(&mut self) -> String {
            let mut lines = Vec::new();
            loop {
                let mut line = String::new();
                if self.0.read_line(&mut line).await.unwrap() == 0 {
                    return lines.join("|");
                }
                let line = line.trim_end().to_string();
                let last = line.as_bytes().get(3) != Some(&b'-');
                lines.push(line);
                if last {
                    return lines.join("|");
                }
            }
        }

        async fn send(&mut self, text: &str) -> String {
            self.0.get_mut().write_all(text.as_bytes()).await.unwrap();
            self.0.get_mut().write_all(b"\r\n").await.unwrap();
            self.reply().await
        }
    }

    fn code(reply: &str) -> &str {
        reply.get(..3).unwrap_or(reply)
    }

    #[tokio::test]
    async fn an_mta_hands_over_a_report_from_the_null_sender() {
        let (port, mut received) = start(BounceListener::new("bounces.test")).await;
        let transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1")
            .port(port)
            .build();
        let to = "bounces@guanxi.example.org".parse().unwrap();
        let envelope = Envelope::new(None, vec![to]).unwrap();
        let raw = GMAIL.replace('\n', "\r\n");
        transport.send_raw(&envelope, raw.as_bytes()).await.unwrap();

        let message = received.recv().await.unwrap();
        assert_eq!(message.mail_from, "");
        assert_eq!(message.recipients, ["bounces@guanxi.example.org"]);
        // lettre ends the data with CRLF.CRLF whether or not it ended with a CRLF.
        assert_eq!(String::from_utf8_lossy(&message.data), raw + "\r\n");
        let reports = parse_reports(&message.data);
        assert_eq!(reports.len(), 1);
        assert_eq!(reports[0].recipient, "chen.jie@gmail.com");
        assert!(matches!(
            reports[0].kind,
            ReportKind::Bounce {
                permanent: true,
                ..
            }
        ));
    }

    #[tokio::test]
    async fn a_conversation_in_and_out_of_order() {
        let (port, mut received) = start(BounceListener::new("bounces.test")).await;
        let (mut c, greeting) = Client::connect(port).await;
        assert_eq!(greeting, "220 bounces.test ESMTP Guanxi bounces");
        assert_eq!(code(&c.send("MAIL FROM:<>").await), "503");
        assert_eq!(code(&c.send("HELO").await), "501");
        assert_eq!(
            c.send("EHLO mta.example.org").await,
            "250-bounces.test|250-SIZE 10485760|250 8BITMIME"
        );
        assert_eq!(
            code(&c.send("RCPT TO:<bounces@guanxi.example.org>").await),
            "503"
        );
        assert_eq!(code(&c.send("DATA").await), "503");
        assert_eq!(
            code(&c.send("mail from:<> SIZE=900 BODY=8BITMIME").await),
            "250"
        );
        assert_eq!(code(&c.send("MAIL FROM:<a@example.org>").await), "503");
        assert_eq!(code(&c.send("DATA").await), "503");
        assert_eq!(code(&c.send("RCPT TO:<>").await), "501");
        assert_eq!(
            code(&c.send("RCPT TO:bounces@guanxi.example.org").await),
            "501"
        );
        assert_eq!(
            code(&c.send("RCPT TO: <Bounces@guanxi.example.org>").await),
            "250"
        );
        assert_eq!(code(&c.send("VRFY someone").await), "252");
        assert_eq!(code(&c.send("NOOP").await), "250");
        assert_eq!(code(&c.send("STARTTLS").await), "500");
        assert_eq!(
            code(&c.send(&format!("NOOP {}", "x".repeat(2000))).await),
            "500"
        );
        assert_eq!(code(&c.send("DATA").await), "354");
        let body = "Subject: dots\r\n\r\n..leading dot\r\n...two\r\n. \r\n.";
        assert_eq!(code(&c.send(body).await), "250");
        let message = received.recv().await.unwrap();
        assert_eq!(message.mail_from, "");
        assert_eq!(message.recipients, ["Bounces@guanxi.example.org"]);
        assert_eq!(
            message.data,
            b"Subject: dots\r\n\r\n.leading dot\r\n..two\r\n \r\n"
        );
        // The transaction is over; the next starts from MAIL.
        assert_eq!(code(&c.send("RCPT TO:<b@example.org>").await), "503");
        assert_eq!(code(&c.send("MAIL FROM:<a@example.org>").await), "250");
        assert_eq!(code(&c.send("RSET").await), "250");
        assert_eq!(code(&c.send("RCPT TO:<b@example.org>").await), "503");
        assert_eq!(code(&c.send("QUIT").await), "221");
        assert_eq!(c.reply().await, "");
    }

    #[tokio::test]
    async fn limits_refuse_what_is_too_big_and_the_connection_goes_on() {
        let settings = BounceListener {
            max_message_size: 100,
            max_recipients: 2,
            ..BounceListener::new("bounces.test")
        };
        let (port, mut received) = start(settings).await;
        let (mut c, _) = Client::connect(port).await;
        c.send("EHLO mta.example.org").await;
        assert_eq!(code(&c.send("MAIL FROM:<> SIZE=101").await), "552");
        assert_eq!(code(&c.send("MAIL FROM:<> SMTPUTF8").await), "555");
        assert_eq!(code(&c.send("MAIL FROM:<>").await), "250");
        for (to, expected) in [("a", "250"), ("b", "250"), ("c", "452")] {
            assert_eq!(
                code(&c.send(&format!("RCPT TO:<{to}@example.org>")).await),
                expected
            );
        }
        // Too big by its lines, then by one line with no end in sight.
        for body in [
            "x".repeat(48) + "\r\n" + &"y".repeat(48) + "\r\n" + "z",
            "w".repeat(5000),
        ] {
            assert_eq!(code(&c.send("DATA").await), "354");
            assert_eq!(code(&c.send(&format!("{body}\r\n.")).await), "552");
            assert_eq!(code(&c.send("MAIL FROM:<>").await), "250");
            assert_eq!(code(&c.send("RCPT TO:<a@example.org>").await), "250");
        }
        assert_eq!(code(&c.send("DATA").await), "354");
        assert_eq!(code(&c.send("small\r\n.").await), "250");
        assert_eq!(received.recv().await.unwrap().data, b"small\r\n");
        assert!(received.try_recv().is_err());
    }

    #[tokio::test]
    async fn idle_clients_and_one_too_many_are_turned_away() {
        let settings = BounceListener {
            max_connections: 1,
            idle_timeout: Duration::from_millis(300),
            ..BounceListener::new("bounces.test")
        };
        let (port, _received) = start(settings).await;
        let (mut first, _) = Client::connect(port).await;
        let (_, busy) = Client::connect(port).await;
        assert_eq!(code(&busy), "421");
        assert_eq!(code(&first.reply().await), "421");
        assert_eq!(first.reply().await, "");
        // The idle one is gone, so there is room again.
        tokio::time::sleep(Duration::from_millis(50)).await;
        let (_, greeting) = Client::connect(port).await;
        assert_eq!(code(&greeting), "220");
    }

    #[tokio::test]
    async fn serving_ends_on_shutdown_or_when_nobody_listens() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let (sink, _received) = mpsc::channel(1);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let settings = BounceListener::new("bounces.test");
        let serving = tokio::spawn(settings.serve(listener, sink, async {
            let _ = stopped.await;
        }));
        stop.send(()).unwrap();
        timeout(Duration::from_secs(5), serving)
            .await
            .unwrap()
            .unwrap();

        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let (sink, received) = mpsc::channel(1);
        let serving = tokio::spawn(serve(listener, "bounces.test".into(), sink));
        drop(received);
        timeout(Duration::from_secs(5), serving)
            .await
            .unwrap()
            .unwrap();
    }
}
