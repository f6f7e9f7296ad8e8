//! The real mail adapters: SMTP against a sink in this test (speaking enough SMTP for a
//! client to deliver), and SES v2 through the AWS SDK against a local emulator of the
//! SES v2 API (started by `just test`).

use std::sync::{Arc, Mutex};

use lockdev::integrations::mail::{Email, Mailer as _, SesMailer, SmtpMailer};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::TcpListener;

use crate::helpers::{csrf_from, spawn_app};

/// What the sink received: one transcript per delivered message.
#[derive(Clone, Default)]
struct Sink {
    messages: Arc<Mutex<Vec<String>>>,
}

impl Sink {
    /// Listens on a free port; returns its `smtp://` URL.
    async fn start(&self) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("address");
        let messages = self.messages.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let messages = messages.clone();
                tokio::spawn(async move {
                    let (read, mut write) = stream.into_split();
                    let mut lines = BufReader::new(read).lines();
                    write.write_all(b"220 sink ESMTP\r\n").await.ok();
                    let (mut transcript, mut in_data) = (String::new(), false);
                    while let Ok(Some(line)) = lines.next_line().await {
                        transcript.push_str(&line);
                        transcript.push('\n');
                        let reply: &[u8] = if in_data {
                            if line != "." {
                                continue;
                            }
                            in_data = false;
                            messages.lock().expect("sink").push(std::mem::take(&mut transcript));
                            b"250 queued\r\n"
                        } else {
                            match line.get(..4).unwrap_or_default().to_ascii_uppercase().as_str() {
                                "EHLO" => b"250-sink\r\n250 8BITMIME\r\n",
                                "DATA" => {
                                    in_data = true;
                                    b"354 go ahead\r\n"
                                }
                                "QUIT" => {
                                    write.write_all(b"221 bye\r\n").await.ok();
                                    break;
                                }
                                _ => b"250 ok\r\n",
                            }
                        };
                        write.write_all(reply).await.ok();
                    }
                });
            }
        });
        format!("smtp://{address}")
    }

    fn received(&self) -> Vec<String> {
        self.messages.lock().expect("sink").clone()
    }
}

fn email() -> Email {
    Email {
        to: "someone@clinic.example".into(),
        subject: "Your sign-in link".into(),
        text: "Plain words and https://lockdev.example/x".into(),
        html: "<p>Plain words</p>".into(),
    }
}

#[tokio::test]
async fn the_smtp_adapter_delivers_a_text_and_html_message_to_a_relay() {
    let sink = Sink::default();
    let url = sink.start().await;
    let mailer = SmtpMailer::new(&url, "Lockdev <no-reply@clinic.example>").expect("mailer");
    mailer.send(&email()).await.expect("delivered");
    let received = sink.received();
    assert_eq!(received.len(), 1);
    let message = &received[0];
    assert!(message.contains("MAIL FROM:<no-reply@clinic.example>"), "{message}");
    assert!(message.contains("RCPT TO:<someone@clinic.example>"));
    assert!(message.contains("Subject: Your sign-in link"));
    assert!(message.contains("multipart/alternative") && message.contains("text/html"));
}

#[tokio::test]
async fn the_application_sends_account_mail_through_smtp_when_configured() {
    let sink = Sink::default();
    let url = sink.start().await;
    let app = spawn_app().env("LOCKDEV_MAILER", "smtp").env("LOCKDEV_SMTP_URL", &url).spawn().await;
    app.person("smtp@clinic.example", "quiet lake morning 42").await;
    let browser = app.browser();
    let page = browser.get("/password/forgot").await.text().await.expect("page");
    let token = csrf_from(&page).expect("token");
    let res = browser
        .client
        .post(browser.url("/password/forgot"))
        .form(&[("email", "smtp@clinic.example"), ("csrf_token", &token)])
        .send()
        .await
        .expect("forgot");
    assert_eq!(res.status(), 200);
    // The message is queued after the answer (same speed for known and unknown
    // addresses); a worker sends it.
    for _ in 0..500 {
        app.run_jobs().await;
        if !sink.received().is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let received = sink.received();
    assert_eq!(received.len(), 1, "one reset e-mail");
    assert!(received[0].contains("RCPT TO:<smtp@clinic.example>"));
    assert!(received[0].contains("/password/reset/"), "the link is in the message");
    assert!(app.mailbox().await.is_empty(), "nothing in the development mailbox");
}

#[tokio::test]
async fn a_relay_that_refuses_is_an_error_not_a_silent_loss() {
    let mailer = SmtpMailer::new("smtp://127.0.0.1:1", "no-reply@clinic.example").expect("mailer");
    assert!(mailer.send(&email()).await.is_err());
}

/// The local AWS emulator's address (set by `just test`).
fn aws_endpoint() -> String {
    std::env::var("LOCKDEV_TEST_AWS_ENDPOINT").expect(
        "LOCKDEV_TEST_AWS_ENDPOINT is not set: run the tests with `just test`, which starts the emulator",
    )
}

#[tokio::test]
async fn the_ses_adapter_sends_through_the_sesv2_api() {
    let endpoint = aws_endpoint();
    // Credentials come through the SDK's usual chain: the emulator script sets dummy ones.
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("eu-west-1"))
        .endpoint_url(&endpoint)
        .load()
        .await;
    let admin = aws_sdk_sesv2::Client::new(&config);
    // SES sends only from a verified identity, as in a real account.
    let sender = format!("no-reply-{}@clinic.example", ulid::Ulid::new().to_string().to_lowercase());
    let mailer = SesMailer::new("eu-west-1", Some(&endpoint), &sender);
    assert!(mailer.send(&email()).await.is_err(), "an unverified sender is refused, and said so");
    admin.create_email_identity().email_identity(&sender).send().await.expect("identity");
    mailer.send(&email()).await.expect("sent");

    let data: Value = reqwest::get(format!("{endpoint}/moto-api/data.json"))
        .await
        .expect("emulator state")
        .json()
        .await
        .expect("json");
    let sent: Vec<&Value> = data["ses"]["Message"]
        .as_array()
        .expect("messages")
        .iter()
        .filter(|m| m["source"] == sender.as_str())
        .collect();
    assert_eq!(sent.len(), 1, "{data}");
    assert_eq!(sent[0]["subject"], "Your sign-in link");
    assert_eq!(sent[0]["destinations"]["ToAddresses"][0], "someone@clinic.example");
}

/// A new sign-in address is proved before it is used: the change mails a single-use link
/// to the new address (issued and queued in the change's transaction), and only opening it
/// moves the account there.
#[tokio::test]
async fn an_address_change_mails_a_link_to_the_new_address_and_takes_effect_only_through_it() {
    let app = spawn_app().spawn().await;
    let person = app.person("before@home.example", "a long enough phrase here").await;
    let mut who = crate::fixtures::signed_in(
        person.id,
        lockdev::auth::session::ContextClaim::Platform { role: lockdev::auth::policy::PlatformRole::Auditor },
    );
    who.context = None;
    app.act_as(Some(who));
    let res = app.post_form("/account/email", &[("email", "after@home.example")]).await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap_or_default());
    app.run_jobs().await;
    let link = app.eventual_link_to("after@home.example").await;
    assert!(link.starts_with("/account/email/verify/"), "{link}");
    let mut su = app.database().superuser().await;
    let email: String = sqlx::query_scalar("SELECT email::text FROM users WHERE id = $1")
        .bind(person.id)
        .fetch_one(&mut su)
        .await
        .expect("email");
    assert_eq!(email, "before@home.example", "nothing changes before the link is opened");
    let tokens: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM auth_tokens WHERE purpose = 'email_verification' AND user_id = $1",
    )
    .bind(person.id)
    .fetch_one(&mut su)
    .await
    .expect("tokens");
    assert_eq!(tokens, 1);
}
