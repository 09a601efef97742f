//! The mail transports end to end: `.eml` files in a folder, delivery to an SMTP server in
//! this process (the `mailin` crate's SMTP state machine over TCP: nothing to install), and
//! a server that is not there. (Retries from the outbox are tested over HTTP, in
//! `tests/api/mail_outbox.rs`.) Python's standard `email` package parses the
//! `.eml` files independently when `python3` is there.

use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use portcullis_application::ports::{MailError, OutgoingMail};
use portcullis_domain::SecretString;
use portcullis_infrastructure::mail::{MailConfigError, MailSettings, MailTransport, build_transport};

/// A 43-character base64url token, as the service mails them.
const TOKEN: &str = "Xy9_-QwErTyUiOp1234567890aSdFgHjKlZxCvBnM-_";

fn link() -> String {
    format!("https://auth.example.com/reset-password?token={TOKEN}")
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|ci| ci.eq_ignore_ascii_case("true"))
}

/// A folder for one test, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(label: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("portcullis-mail-{label}-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn reset_mail(to: &str, name: &str, subject: &str) -> OutgoingMail {
    let link = link();
    OutgoingMail {
        to: to.to_owned(),
        to_name: name.to_owned(),
        subject: subject.to_owned(),
        text: format!("Hello {name},\n\nTo choose a new password, open this link:\n\n{link}\n\nThe link works once.\n"),
        html: format!(
            "<!DOCTYPE html>\n<html><body>\n<p>Hello {name},</p>\n<p><a href=\"{link}\">{link}</a></p>\n</body></html>\n"
        ),
    }
}

/// One MIME part (or the whole message): unfolded headers and the raw body.
struct Part {
    headers: Vec<(String, String)>,
    body: String,
}

impl Part {
    fn parse(source: &str) -> Self {
        let (head, body) = source.split_once("\r\n\r\n").expect("headers end with an empty line");
        let mut headers: Vec<(String, String)> = Vec::new();
        for line in head.split("\r\n") {
            if line.starts_with([' ', '\t']) {
                let last = headers.last_mut().expect("a folded line follows a header");
                last.1.push(' ');
                last.1.push_str(line.trim());
            } else {
                let (name, value) = line.split_once(':').expect("a header line");
                headers.push((name.to_ascii_lowercase(), value.trim().to_owned()));
            }
        }
        Self { headers, body: body.to_owned() }
    }

    fn header(&self, name: &str) -> &str {
        self.headers
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
            .unwrap_or_else(|| panic!("no {name} header"))
    }

    /// The parts of a multipart body.
    fn parts(&self) -> Vec<Part> {
        let content_type = self.header("content-type");
        let boundary = content_type.split("boundary=").nth(1).expect("a boundary").trim_matches('"');
        let delimiter = format!("--{boundary}");
        let body = self.body.split(&format!("{delimiter}--")).next().expect("a closing delimiter");
        body.split(&delimiter).skip(1).map(|part| Part::parse(part.trim_start_matches("\r\n"))).collect()
    }
}

/// The `.eml` files of a folder, in name order; fails on left-over temporary files.
fn eml_files(folder: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(folder).expect("reads the folder") {
        let path = entry.expect("an entry").path();
        let name = path.file_name().and_then(|n| n.to_str()).expect("a name").to_owned();
        assert!(name.ends_with(".eml") && !name.starts_with('.'), "unexpected file {name}");
        files.push(path);
    }
    files.sort();
    files
}

/// Checks one delivered message: headers, both bodies with the link whole.
fn check_message(source: &str, to: &str, name_header: &str, subject: &str) {
    let message = Part::parse(source);
    assert_eq!(message.header("from"), r#""Portcullis Test" <auth@example.com>"#);
    assert_eq!(message.header("to"), format!("{name_header} <{to}>"));
    assert_eq!(message.header("subject"), subject);
    assert_eq!(message.header("mime-version"), "1.0");
    assert!(message.header("message-id").ends_with("@example.com>"), "{}", message.header("message-id"));
    assert!(chrono::DateTime::parse_from_rfc2822(message.header("date")).is_ok(), "{}", message.header("date"));
    assert!(message.header("content-type").starts_with("multipart/alternative;"));
    let parts = message.parts();
    assert_eq!(parts.len(), 2);
    assert_eq!(parts[0].header("content-type"), "text/plain; charset=utf-8");
    assert_eq!(parts[1].header("content-type"), "text/html; charset=utf-8");
    for part in &parts {
        assert!(["7bit", "8bit"].contains(&part.header("content-transfer-encoding")), "links stay greppable");
    }
    assert!(parts[0].body.contains(&format!("\r\n{}\r\n", link())), "{}", parts[0].body);
    assert!(parts[1].body.contains(&format!("<a href=\"{}\">{}</a>", link(), link())), "{}", parts[1].body);
    assert!(source.matches(TOKEN).count() == 3, "the token appears whole, in both bodies");
}

#[test]
fn the_folder_mailer_writes_one_complete_eml_file_per_message() {
    let temp = TempDir::new("folder");
    let folder = temp.0.join("not").join("yet");
    let settings = MailSettings {
        from: "Portcullis Test <auth@example.com>".to_owned(),
        transport: MailTransport::Directory(folder.clone()),
    };
    let transport = build_transport(&settings).expect("builds");
    assert!(folder.is_dir(), "the folder is made at start");
    assert_eq!(transport.description, format!("the folder {}", folder.display()));
    transport.mailer.send(reset_mail("ada@example.com", "Ada", "Reset your password")).expect("written");
    std::thread::sleep(Duration::from_millis(2));
    transport.mailer.send(reset_mail("zoe@example.com", "Zoë", "Réinitialisation")).expect("written");

    let files = eml_files(&folder);
    assert_eq!(files.len(), 2);
    for file in &files {
        let name = file.file_name().and_then(|n| n.to_str()).expect("a name");
        let (micros, rest) = name.split_once('-').expect("<micros>-<uuid>.eml");
        assert!(micros.len() == 20 && micros.bytes().all(|b| b.is_ascii_digit()), "{name}");
        assert_eq!(rest.len(), "0123456789abcdef0123456789abcdef.eml".len(), "{name}");
    }
    // Names sort by time: the first file holds the first message.
    let first = std::fs::read_to_string(&files[0]).expect("reads");
    check_message(&first, "ada@example.com", "Ada", "Reset your password");
    let second = std::fs::read_to_string(&files[1]).expect("reads");
    assert!(second.contains("\r\nContent-Transfer-Encoding: 8bit\r\n"), "non-ASCII text goes as 8bit");
    assert!(second.contains("Hello Zoë,"));
    let encoded_name = Part::parse(&second).header("to").to_owned();
    assert!(encoded_name.starts_with("=?utf-8?") && encoded_name.ends_with(" <zoe@example.com>"), "{encoded_name}");
    check_with_python(&files[1], "zoe@example.com", "Zoë", "Réinitialisation");
}

/// Has Python's own e-mail parser read the message back, decoding headers and both parts.
fn check_with_python(file: &Path, to: &str, name: &str, subject: &str) {
    let script = r#"
import email, email.policy, sys
with open(sys.argv[1], "rb") as f:
    message = email.message_from_binary_file(f, policy=email.policy.default)
assert message.get_content_type() == "multipart/alternative", message.get_content_type()
plain = message.get_body(("plain",)).get_content()
html = message.get_body(("html",)).get_content()
print(message["To"].addresses[0].display_name)
print(message["To"].addresses[0].addr_spec)
print(message["Subject"])
print(sys.argv[2] in plain, ('href="' + sys.argv[2] + '"') in html)
"#;
    let output = match Command::new("python3").arg("-c").arg(script).arg(file).arg(link()).output() {
        Ok(output) => output,
        Err(error) if !in_ci() => {
            eprintln!("SKIPPED the Python parse of the .eml: python3 cannot run ({error})");
            return;
        }
        Err(error) => panic!("python3 cannot run and CI=true: {error}"),
    };
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let stdout = String::from_utf8(output.stdout).expect("utf-8");
    assert_eq!(stdout.lines().collect::<Vec<_>>(), [name, to, subject, "True True"]);
}

/// A port nothing listens on (it was free a moment ago).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("binds").local_addr().expect("an address").port()
}

/// What the sink accepted: per message, `X-Envelope-To: <recipients>\r\n` and the message.
type Received = Arc<Mutex<Vec<String>>>;

/// One SMTP session's handler: collects DATA with its envelope recipients.
struct SinkSession {
    received: Received,
    to: Vec<String>,
    data: Vec<u8>,
}

impl mailin::Handler for SinkSession {
    fn data_start(&mut self, _domain: &str, _from: &str, _is8bit: bool, to: &[String]) -> mailin::Response {
        self.to = to.to_vec();
        self.data.clear();
        mailin::response::OK
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.data.extend_from_slice(buf);
        Ok(())
    }

    fn data_end(&mut self) -> mailin::Response {
        let message = format!("X-Envelope-To: {}\r\n{}", self.to.join(","), String::from_utf8_lossy(&self.data));
        self.received.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(message);
        mailin::response::OK
    }
}

/// An SMTP server on 127.0.0.1 in this process: the `mailin` crate's protocol state machine
/// over TCP, one thread per connection, keeping each message it accepts. It offers no
/// STARTTLS. It lives until the test process ends.
struct SmtpSink {
    port: u16,
    received: Received,
}

impl SmtpSink {
    fn start() -> Option<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binds");
        let port = listener.local_addr().expect("an address").port();
        let received = Received::default();
        let shared = Arc::clone(&received);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let received = Arc::clone(&shared);
                std::thread::spawn(move || serve_smtp(stream, received));
            }
        });
        Some(Self { port, received })
    }

    /// The messages received so far, waiting up to `timeout` for `count` of them.
    fn messages(&self, count: usize, timeout: Duration) -> Vec<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let messages = self.received.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
            if messages.len() >= count || Instant::now() >= deadline {
                return messages;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// One connection: the greeting, then each line through the session, its answer written back.
fn serve_smtp(stream: TcpStream, received: Received) {
    let peer = stream.peer_addr().map(|addr| addr.ip()).unwrap_or(std::net::Ipv4Addr::LOCALHOST.into());
    let handler = SinkSession { received, to: Vec::new(), data: Vec::new() };
    let mut session = mailin::SessionBuilder::new("sink.example").build(peer, handler);
    let Ok(mut writer) = stream.try_clone() else { return };
    if session.greeting().write_to(&mut writer).is_err() {
        return;
    }
    let mut reader = BufReader::new(stream);
    let mut line = Vec::new();
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let response = session.process(&line);
        match response.action {
            mailin::Action::NoReply => {}
            mailin::Action::Close => {
                let _ = response.write_to(&mut writer);
                return;
            }
            _ => {
                if response.write_to(&mut writer).is_err() {
                    return;
                }
            }
        }
    }
}

fn smtp_settings(url: String) -> MailSettings {
    MailSettings {
        from: "Portcullis Test <auth@example.com>".to_owned(),
        transport: MailTransport::Smtp(SecretString::new(url)),
    }
}

#[test]
fn mail_reaches_a_real_smtp_server_and_starttls_is_never_skipped() {
    let Some(sink) = SmtpSink::start() else { return };
    let transport =
        build_transport(&smtp_settings(format!("smtp://127.0.0.1:{}?tls=none", sink.port))).expect("builds");
    assert_eq!(transport.description, format!("SMTP relay 127.0.0.1:{} (no TLS)", sink.port));
    transport.mailer.send(reset_mail("ada@example.com", "Ada", "Reset your password")).expect("accepted");
    transport.mailer.send(reset_mail("zoe@example.net", "Zoë", "Réinitialisation")).expect("accepted");

    let mut messages = sink.messages(2, Duration::from_secs(10));
    assert_eq!(messages.len(), 2);
    messages.sort_by_key(|message| !message.starts_with("X-Envelope-To: ada@example.com\r\n"));
    let ada = messages[0].strip_prefix("X-Envelope-To: ada@example.com\r\n").expect("the envelope recipient");
    check_message(ada, "ada@example.com", "Ada", "Reset your password");
    let zoe = messages[1].strip_prefix("X-Envelope-To: zoe@example.net\r\n").expect("the envelope recipient");
    assert!(zoe.contains("Hello Zoë,") && zoe.contains(&link()), "8bit text arrives whole");

    // `smtp://` without `tls=none` requires STARTTLS, which this server does not offer:
    // the message is refused as a transport failure (so the outbox retries it), never sent
    // in clear text.
    let strict = build_transport(&smtp_settings(format!("smtp://127.0.0.1:{}", sink.port))).expect("builds");
    let refused = strict.mailer.send(reset_mail("ada@example.com", "Ada", "Again"));
    assert!(matches!(refused, Err(MailError::Transport(_))), "{refused:?}");
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(sink.messages(3, Duration::ZERO).len(), 2, "nothing more arrived");
}

#[test]
fn an_unreachable_server_is_a_transport_failure_without_the_address() {
    let port = free_port();
    let transport = build_transport(&smtp_settings(format!("smtp://127.0.0.1:{port}?tls=none"))).expect("builds");
    let started = Instant::now();
    let refused = transport.mailer.send(reset_mail("ada@example.com", "Ada", "Reset your password"));
    let Err(MailError::Transport(reason)) = refused else { panic!("a transport failure: {refused:?}") };
    assert!(started.elapsed() < Duration::from_secs(5), "a refused connection fails at once");
    assert!(!reason.contains(TOKEN), "{reason}");
}

#[test]
fn bad_settings_are_refused_up_front_without_the_password() {
    let error = build_transport(&smtp_settings("smtp://mailer:hunter2-secret@smtp.example.com?tls=maybe".to_owned()))
        .expect_err("a bad tls parameter");
    assert!(matches!(error, MailConfigError::InvalidSmtpUrl(_)));
    let shown = format!("{error} {error:?}");
    assert!(shown.contains("PORTCULLIS_SMTP_URL") && !shown.contains("hunter2"), "{shown}");

    let settings = MailSettings { from: "not a mailbox".to_owned(), ..MailSettings::default() };
    assert!(matches!(build_transport(&settings), Err(MailConfigError::InvalidFrom(_))));

    let temp = TempDir::new("blocked");
    let file = temp.0.join("a-file");
    std::fs::write(&file, b"not a folder").expect("writes");
    let settings = MailSettings { transport: MailTransport::Directory(file.join("mail")), ..MailSettings::default() };
    let error = build_transport(&settings).expect_err("a folder under a file");
    assert!(matches!(error, MailConfigError::Folder { .. }), "{error:?}");
    assert!(error.to_string().contains("PORTCULLIS_MAIL_DIR"));
}
