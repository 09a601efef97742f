//! An SMTP server for the mail drills, in the test process: the `mailin` crate's protocol
//! state machine over TCP (nothing to install), one thread per connection, keeping every
//! message it accepts with its envelope recipients. It offers no STARTTLS, so the service
//! reaches it with `?tls=none`. It can be started on a chosen port, later than the service
//! that sends to it: the service first finds nobody listening (an outage).

use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use mail_parser::MessageParser;

/// One accepted message.
#[derive(Clone, Debug)]
pub struct Received {
    /// The envelope recipients (`RCPT TO`).
    pub to: Vec<String>,
    /// The subject line.
    pub subject: String,
    /// The plain-text body.
    pub text: String,
}

type Inbox = Arc<Mutex<Vec<Received>>>;

/// A running SMTP server; it stops accepting connections when dropped (connections already
/// open finish on their own).
pub struct SmtpSink {
    port: u16,
    inbox: Inbox,
    stop: Arc<std::sync::atomic::AtomicBool>,
}

impl SmtpSink {
    /// Listens on `127.0.0.1:port`.
    pub fn start_on(port: u16) -> Self {
        let listener = TcpListener::bind(("127.0.0.1", port)).expect("the SMTP sink binds its port");
        let port = listener.local_addr().expect("an address").port();
        let inbox = Inbox::default();
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (shared, stopping) = (Arc::clone(&inbox), Arc::clone(&stop));
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                if stopping.load(std::sync::atomic::Ordering::SeqCst) {
                    return;
                }
                let inbox = Arc::clone(&shared);
                std::thread::spawn(move || serve(stream, inbox));
            }
        });
        Self { port, inbox, stop }
    }

    /// `smtp://127.0.0.1:PORT?tls=none`: the `PORTCULLIS_SMTP_URL` of a server on `port`.
    pub fn url_for(port: u16) -> String {
        format!("smtp://127.0.0.1:{port}?tls=none")
    }

    /// Every message accepted so far.
    pub fn received(&self) -> Vec<Received> {
        self.inbox.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Waits (at most `timeout`) until at least `count` messages arrived, and returns them all.
    pub async fn wait_for(&self, count: usize, timeout: Duration) -> Vec<Received> {
        let deadline = Instant::now() + timeout;
        loop {
            let received = self.received();
            if received.len() >= count {
                return received;
            }
            assert!(
                Instant::now() < deadline,
                "{count} messages expected within {timeout:?}, {} arrived: {received:?}",
                received.len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// One SMTP session's handler: collects DATA with its envelope recipients.
struct Session {
    inbox: Inbox,
    to: Vec<String>,
    data: Vec<u8>,
}

impl mailin::Handler for Session {
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
        let message = MessageParser::default().parse(&self.data);
        let received = Received {
            to: self.to.clone(),
            subject: message.as_ref().and_then(|m| m.subject()).unwrap_or_default().to_owned(),
            text: message.as_ref().and_then(|m| m.body_text(0)).map(|body| body.into_owned()).unwrap_or_default(),
        };
        self.inbox.lock().unwrap_or_else(PoisonError::into_inner).push(received);
        mailin::response::OK
    }
}

/// One connection: the greeting, then each line through the session, its answer written back.
fn serve(stream: TcpStream, inbox: Inbox) {
    let peer = stream.peer_addr().map(|addr| addr.ip()).unwrap_or(std::net::Ipv4Addr::LOCALHOST.into());
    let mut session =
        mailin::SessionBuilder::new("sink.example").build(peer, Session { inbox, to: Vec::new(), data: Vec::new() });
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
