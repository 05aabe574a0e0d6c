//! The `jenkins-credential` target against an in-process double of Jenkins' credentials REST
//! API (`tests/common/jenkins_double.rs`, which names the documents it follows).

#![cfg(feature = "jenkins")]

mod common;

#[path = "common/jenkins_double.rs"]
mod jenkins_double;

use common::{Project, Run, dotenv_value};
use jenkins_double::{JenkinsDouble, SECRET_TEXT, TOKEN, USER, USERNAME_PASSWORD};

fn run(jenkins: &JenkinsDouble, project: &Project, args: &[&str]) -> Run {
    project.run_env(
        args,
        &[("JENKINS_URL", &jenkins.url), ("JENKINS_USER", USER), ("JENKINS_API_TOKEN", TOKEN)],
    )
}

fn project(extra: &str) -> Project {
    Project::new(&format!(
        r#"version: "1.0"
secrets:
  api_key:
    generator: {{type: random-string}}
    targets:
      - {{type: local-file, path: .env}}
      - {{type: jenkins-credential}}
  db:
    template:
      type: creds
      fields:
        - {{name: username, generator: {{type: static, value: app}}}}
        - {{name: password, generator: {{type: random-password}}}}
    targets:
      - {{type: local-file, path: .env}}
      - {{type: jenkins-credential, folder: team/app, domain: deploy, id: db-creds,
          description: "Database <login>"}}
{extra}"#
    ))
}

fn double() -> JenkinsDouble {
    let jenkins = JenkinsDouble::start();
    jenkins.add_folder("team/app", &["deploy"]);
    jenkins
}

#[test]
fn create_unchanged_and_forced_update() {
    let jenkins = double();
    let project = project("");

    let first = run(&jenkins, &project, &["sync"]);
    assert_eq!(first.code, 0, "{first:?}");
    let key = dotenv_value(&project.path(".env"), "API_KEY").unwrap();
    let password = dotenv_value(&project.path(".env"), "DB_PASSWORD").unwrap();
    let api_key = jenkins.credential("", "_", "api_key").expect("created in the system store");
    assert_eq!(api_key.class, SECRET_TEXT);
    assert_eq!(api_key.fields["secret"], key);
    assert_eq!(api_key.fields["scope"], "GLOBAL");
    let db = jenkins.credential("team/app", "deploy", "db-creds").expect("created in the folder");
    assert_eq!(db.class, USERNAME_PASSWORD);
    assert_eq!(
        (db.fields["username"].as_str(), db.fields["password"].as_str()),
        ("app", password.as_str())
    );
    assert_eq!(db.fields["description"], "Database <login>");
    // An API token needs no crumb: none was asked for.
    assert!(!jenkins.requests().iter().any(|(_, p, _)| p.contains("crumb")));

    // Unchanged: the lockfile's hash says so; nothing is written.
    let writes = jenkins.writes();
    let second = run(&jenkins, &project, &["sync"]);
    assert_eq!(second.code, 0, "{second:?}");
    assert_eq!(second.stderr, "Summary: generated 0, targets updated 0, unchanged 4, failed 0\n");
    assert_eq!(jenkins.writes(), writes, "an unchanged run writes nothing");

    // Jenkins never gives values back, so drift cannot see them and says so.
    let drift = run(&jenkins, &project, &["drift"]);
    assert_eq!(drift.code, 0, "{drift:?}");
    assert!(drift.stdout.contains("Jenkins never returns credential values"), "{drift:?}");

    // A forced update goes to the existing credential's config.xml.
    let forced = run(&jenkins, &project, &["sync", "--force", "-s", "api_key"]);
    assert_eq!(forced.code, 0, "{forced:?}");
    let new_key = dotenv_value(&project.path(".env"), "API_KEY").unwrap();
    assert_ne!(new_key, key);
    assert_eq!(jenkins.credential("", "_", "api_key").unwrap().fields["secret"], new_key);
    let log = jenkins.requests();
    let last_post = log.iter().rev().find(|(m, _, _)| m == "POST").unwrap();
    assert_eq!(last_post.1, "/credentials/store/system/domain/_/credential/api_key/config.xml");
}

#[test]
fn a_taken_id_is_updated_and_a_credential_made_by_hand_is_kept() {
    let jenkins = double();
    let project = Project::new(
        "version: \"1.0\"\nsecrets:\n  a:\n    generator: {type: random-string}\n    targets: \
         [{type: local-file, path: .env}, {type: jenkins-credential}]\n  b:\n    generator: \
         {type: random-string}\n    targets: [{type: local-file, path: .env}, {type: \
         jenkins-credential}]\n",
    );
    // `b` was made by hand before the first sync: Jenkins will not say what it holds.
    let by_hand = jenkins_double::parse(&format!(
        "<{SECRET_TEXT}><scope>GLOBAL</scope><id>b</id><secret>old</secret></{SECRET_TEXT}>"
    ))
    .unwrap();
    let key = (String::new(), "_".to_string(), "b".to_string());
    jenkins.state.lock().unwrap().credentials.insert(key, by_hand);
    // `a` is created by someone else between the read and the write: Jenkins answers 409.
    jenkins.state.lock().unwrap().race = true;

    // With no lockfile entry, what `b` holds is not replaced behind the user's back.
    let sync = run(&jenkins, &project, &["sync"]);
    assert_eq!(sync.code, 1, "{sync:?}");
    assert!(
        sync.stderr.contains(
            "Failed to write b to jenkins-credential::b: it already holds a value that cannot be \
             read back, and the lockfile records none; set B to the value held to keep it, or \
             `sync --force -s b` replaces it"
        ),
        "{sync:?}"
    );
    let a = dotenv_value(&project.path(".env"), "A").unwrap();
    assert_eq!(jenkins.credential("", "_", "a").unwrap().fields["secret"], a);
    assert_eq!(jenkins.credential("", "_", "b").unwrap().fields["secret"], "old");
    assert_eq!(dotenv_value(&project.path(".env"), "B"), None);
    let posts: Vec<String> =
        jenkins.requests().into_iter().filter(|(m, _, _)| m == "POST").map(|(_, p, _)| p).collect();
    let domain = "/credentials/store/system/domain/_";
    assert_eq!(
        posts,
        [format!("{domain}/createCredentials"), format!("{domain}/credential/a/config.xml")],
        "create a (409), then update a; nothing for b"
    );

    // Given the value it holds, the secret is recorded and written to the other target.
    let kept = project.run_env(
        &["sync"],
        &[
            ("JENKINS_URL", jenkins.url.as_str()),
            ("JENKINS_USER", jenkins_double::USER),
            ("JENKINS_API_TOKEN", jenkins_double::TOKEN),
            ("B", "old"),
        ],
    );
    assert_eq!(kept.code, 0, "{kept:?}");
    assert_eq!(dotenv_value(&project.path(".env"), "B").as_deref(), Some("old"));
    assert_eq!(jenkins.credential("", "_", "b").unwrap().fields["secret"], "old");
}

#[test]
fn xml_special_values_round_trip_exactly() {
    let jenkins = double();
    let value = "a<b>&c\"d'e ]]> é 日本 \u{1F511}\r\nline\ttab";
    let project = Project::new(
        "version: \"1.0\"\nsecrets:\n  odd:\n    generator: {type: static, value: \
         \"a<b>&c\\\"d'e ]]> é 日本 \\U0001F511\\r\\nline\\ttab\"}\n    targets: \
         [{type: jenkins-credential, id: odd, description: \"<&>\\\"'\"}]\n",
    );
    let sync = run(&jenkins, &project, &["sync"]);
    assert_eq!(sync.code, 0, "{sync:?}");
    let held = jenkins.credential("", "_", "odd").unwrap();
    assert_eq!(held.fields["secret"], value);
    assert_eq!(held.fields["description"], "<&>\"'");
}

#[test]
fn a_control_character_is_refused_before_any_write() {
    let jenkins = double();
    let project = Project::new(
        "version: \"1.0\"\nsecrets:\n  bell:\n    generator: {type: static, value: \
         \"ring\\x07\"}\n    targets: [{type: jenkins-credential}]\n",
    );
    let plan = run(&jenkins, &project, &["sync", "--dry-run"]);
    assert_eq!(plan.code, 1, "{plan:?}");
    let refusal = "jenkins-credential `bell`: the value of `bell` holds a character XML 1.0 \
                   cannot carry (a control character other than tab, line feed and carriage \
                   return, or U+FFFE/U+FFFF); Jenkins takes credentials as XML";
    assert!(plan.stdout.contains(refusal), "{plan:?}");
    let sync = run(&jenkins, &project, &["sync"]);
    assert_eq!(sync.code, 1, "{sync:?}");
    assert!(sync.stderr.contains(refusal), "{sync:?}");
    assert_eq!(jenkins.writes(), 0, "{:?}", jenkins.requests());
    assert!(jenkins.credential("", "_", "bell").is_none());
}

#[test]
fn a_crumb_is_fetched_in_the_session_when_jenkins_asks_for_one() {
    let jenkins = double();
    jenkins.state.lock().unwrap().require_crumb = true;
    let project = project("");
    let sync = run(&jenkins, &project, &["sync"]);
    assert_eq!(sync.code, 0, "{sync:?}");
    assert!(jenkins.credential("", "_", "api_key").is_some());
    assert!(jenkins.credential("team/app", "deploy", "db-creds").is_some());

    let log = jenkins.requests();
    let crumbs = log.iter().filter(|(_, p, _)| p == "/crumbIssuer/api/json").count();
    assert_eq!(crumbs, 1, "one crumb per session: {log:?}");
    // Every write refused for want of a crumb was sent again with it, and accepted.
    let posts: Vec<bool> = log.iter().filter(|(m, _, _)| m == "POST").map(|(_, _, c)| *c).collect();
    assert_eq!(posts.iter().filter(|with| **with).count(), 2, "{log:?}");
    assert!(posts.iter().filter(|with| !**with).count() >= 1, "{log:?}");
}

#[test]
fn throttling_is_retried_and_the_in_flight_limit_holds() {
    let jenkins = double();
    let mut file = String::from(
        "version: \"1.0\"\nproviders:\n  ci: {kind: jenkins, auth: {kind: token}, config: \
         {max_in_flight: 2}}\nsecrets:\n",
    );
    for i in 0..20 {
        file.push_str(&format!(
            "  s{i}:\n    generator: {{type: random-string}}\n    targets: [{{type: \
             jenkins-credential}}]\n"
        ));
    }
    let project = Project::new(&file);
    jenkins.state.lock().unwrap().throttle = 6;
    let sync = run(&jenkins, &project, &["sync"]);
    assert_eq!(sync.code, 0, "{sync:?}");
    assert!(sync.stderr.contains("targets updated 20, unchanged 0, failed 0"), "{sync:?}");
    assert_eq!(jenkins.state.lock().unwrap().credentials.len(), 20);
    let max = jenkins.max_in_flight.load(std::sync::atomic::Ordering::SeqCst);
    assert!(max <= 2, "{max} requests were in flight at once");
}

#[test]
fn a_wrong_token_exits_3_and_missing_credentials_are_named() {
    let jenkins = double();
    let project = project("");
    let env = [("JENKINS_URL", jenkins.url.as_str()), ("JENKINS_USER", USER)];
    for args in [&["sync"][..], &["drift"], &["test"]] {
        let wrong = project.run_env(args, &[env[0], env[1], ("JENKINS_API_TOKEN", "not-it")]);
        assert_eq!(wrong.code, 3, "{args:?} {wrong:?}");
        assert!(wrong.stderr.contains("HTTP 401: "), "{wrong:?}");
        assert!(wrong.stderr.contains(": Invalid password/token for user: deployer"), "{wrong:?}");
        assert!(!wrong.all_output().contains("not-it"), "{wrong:?}");
    }
    assert!(jenkins.credential("", "_", "api_key").is_none());

    let none = project.run_env(&["sync"], &env);
    assert_eq!(none.code, 3, "{none:?}");
    assert!(none.stderr.contains("no Jenkins API token: JENKINS_API_TOKEN is not set"), "{none:?}");
}

#[test]
fn test_proves_the_user_and_the_domains_and_fails_without_permission() {
    let jenkins = double();
    let project = project("");
    let test = run(&jenkins, &project, &["test"]);
    assert_eq!(test.code, 0, "{test:?}");
    assert!(
        test.stderr.contains(
            "✓ provider `(default jenkins)` (jenkins-credential, 2 targets): authenticated as \
             `deployer`; domain `_` of the system store can be seen; domain `deploy` of folder \
             `team/app` can be seen; Credentials/Create and Credentials/Update are not checked"
        ),
        "{test:?}"
    );
    assert_eq!(jenkins.writes(), 0, "test writes nothing");

    jenkins.state.lock().unwrap().forbidden.insert("team/app".into());
    let denied = run(&jenkins, &project, &["test"]);
    assert_eq!(denied.code, 3, "{denied:?}");
    assert!(
        denied.stderr.contains(
            "HTTP 403: GET /job/team/job/app/credentials/store/folder/domain/deploy/api/json: \
             deployer is missing the Credentials/View permission; the user lacks \
             Credentials/View on the domain `deploy` of folder `team/app`"
        ),
        "{denied:?}"
    );
}

#[test]
fn a_missing_folder_or_domain_is_named() {
    let jenkins = JenkinsDouble::start();
    let project = project("");
    let sync = run(&jenkins, &project, &["sync"]);
    assert_eq!(sync.code, 1, "{sync:?}");
    assert!(
        sync.stderr.contains(
            "HTTP 404: POST /job/team/job/app/credentials/store/folder/domain/deploy/\
             createCredentials: Not Found; the folder `team/app` or its domain `deploy` does not \
             exist (or the user cannot see it); create it in Jenkins first"
        ),
        "{sync:?}"
    );
    assert!(jenkins.credential("", "_", "api_key").is_some(), "the other target was written");
    let test = run(&jenkins, &project, &["test"]);
    assert_eq!(test.code, 1, "{test:?}");
}

#[test]
fn targets_jenkins_cannot_take_are_refused_before_any_request() {
    let jenkins = double();
    let project = Project::new(
        r#"version: "1.0"
secrets:
  slash:
    generator: {type: random-string}
    targets: [{type: jenkins-credential, id: "a/b"}]
  three:
    template:
      type: creds
      fields:
        - {name: username, generator: {type: static, value: app}}
        - {name: password, generator: {type: random-password}}
        - {name: host, generator: {type: static, value: db}}
    targets: [{type: jenkins-credential}]
  pair:
    template:
      type: creds
      fields:
        - {name: username, generator: {type: static, value: app}}
        - {name: password, generator: {type: random-password}}
    targets: [{type: jenkins-credential, kind: secret-text}]
  dots:
    generator: {type: random-string}
    targets: [{type: jenkins-credential, folder: "a/../b"}]
"#,
    );
    // Ids, folders and shapes Jenkins cannot take stop every command, each at its line.
    let validate = run(&jenkins, &project, &["validate"]);
    assert_eq!(validate.code, 1, "{validate:?}");
    let headlines = validate.error_headlines();
    assert_eq!(
        headlines,
        [
            "error[secretfile/target]: secret `slash`: jenkins-credential `a/b`: the credential \
             id `a/b` must be letters, digits, `_`, `.` and `-` only (the credentials plugin's id \
             check)",
            " --> Secretfile.yml:5:15",
            "error[secretfile/target]: secret `three`: jenkins-credential `three`: a \
             username-password credential needs exactly the fields `username` and `password`, \
             and `three` has the fields username, password, host; use `kind: secret-text` for \
             one value",
            "  --> Secretfile.yml:13:15",
            "error[secretfile/target]: secret `pair`: jenkins-credential `pair`: a secret-text \
             credential holds one value, and `pair` has the fields username, password",
            "  --> Secretfile.yml:20:15",
            "error[secretfile/target]: secret `dots`: jenkins-credential `dots`: the folder \
             `a/../b` has a name Jenkins does not allow for an item: empty, `.`, `..`, or \
             holding a control character or one of ?*/\\%!@#$^&|<>[]:;",
            "  --> Secretfile.yml:23:15",
        ],
        "{validate:?}"
    );
    let sync = run(&jenkins, &project, &["sync"]);
    assert_eq!(sync.code, 1, "{sync:?}");
    assert!(sync.stderr.contains("Secretfile.yml has 4 problems"), "{sync:?}");
    assert!(jenkins.requests().is_empty());

    // Two secrets may not write one credential, an id written out or the default one.
    let shared = Project::new(
        "version: \"1.0\"\nsecrets:\n  a:\n    generator: {type: random-string}\n    targets: \
         [{type: jenkins-credential, id: b}]\n  b:\n    generator: {type: random-string}\n    \
         targets: [{type: jenkins-credential}]\n",
    );
    let validate = run(&jenkins, &shared, &["validate"]);
    assert_eq!(validate.code, 1, "{validate:?}");
    assert!(
        validate.stdout.contains(
            "error[secretfile/key-collision]: secrets `a` and `b` both write \
             jenkins-credential::b"
        ),
        "{validate:?}"
    );

    let bad = Project::new(
        "version: \"1.0\"\nsecrets:\n  a:\n    generator: {type: random-string}\n    targets: \
         [{type: jenkins-credential, scope: SYSTEM}]\n",
    );
    let validate = run(&jenkins, &bad, &["validate"]);
    assert_eq!(validate.code, 1, "{validate:?}");
    assert!(
        validate
            .stdout
            .contains("unknown key `scope` in the jenkins-credential target of secret `a`"),
        "{validate:?}"
    );
}

#[test]
fn a_credential_of_another_type_is_not_overwritten() {
    let jenkins = double();
    let project = Project::new(
        "version: \"1.0\"\nsecrets:\n  deploy_key:\n    generator: {type: random-string}\n    \
         targets: [{type: jenkins-credential}]\n",
    );
    let held = jenkins_double::parse(
        "<com.cloudbees.jenkins.plugins.sshcredentials.impl.BasicSSHUserPrivateKey><scope>GLOBAL\
         </scope><id>deploy_key</id><username>git</username></com.cloudbees.jenkins.plugins.\
         sshcredentials.impl.BasicSSHUserPrivateKey>",
    )
    .unwrap();
    let key = (String::new(), "_".to_string(), "deploy_key".to_string());
    jenkins.state.lock().unwrap().credentials.insert(key, held.clone());
    let sync = run(&jenkins, &project, &["sync"]);
    assert_eq!(sync.code, 1, "{sync:?}");
    assert!(
        sync.all_output().contains(
            "Jenkins holds a `BasicSSHUserPrivateKey` credential under the id `deploy_key` in \
             the domain `_` of the system store, not a secret-text one"
        ),
        "{sync:?}"
    );
    assert_eq!(jenkins.credential("", "_", "deploy_key"), Some(held));
}

#[test]
fn no_value_reaches_any_output() {
    const CANARY: &str = "CANARY-jenkins-7f3a1c";
    let jenkins = double();
    jenkins.state.lock().unwrap().require_crumb = true;
    let project = Project::new(&format!(
        "version: \"1.0\"\nsecrets:\n  a:\n    generator: {{type: static, value: \
         \"{CANARY}<&>\"}}\n    targets: [{{type: jenkins-credential}}, {{type: \
         jenkins-credential, folder: gone}}]\n  b:\n    generator: {{type: static, value: \
         \"{CANARY}\\x01\"}}\n    targets: [{{type: jenkins-credential}}]\n"
    ));
    let mut seen = String::new();
    for args in [&["-vv", "sync"][..], &["sync", "--dry-run", "--format", "json"]] {
        seen.push_str(&run(&jenkins, &project, args).all_output());
    }
    jenkins.state.lock().unwrap().throttle = 12;
    for args in [&["-vv", "drift", "--format", "sarif"][..], &["-vv", "sync", "--force"], &["test"]]
    {
        seen.push_str(&run(&jenkins, &project, args).all_output());
    }
    assert!(jenkins.credential("", "_", "a").unwrap().fields["secret"].starts_with(CANARY));
    assert!(!seen.contains("CANARY"), "a value leaked:\n{seen}");
}

#[test]
#[cfg(unix)]
fn a_change_that_reached_only_jenkins_is_not_undone() {
    use std::os::unix::fs::PermissionsExt;
    let jenkins = double();
    let project = Project::new(
        "version: \"1.0\"\nsecrets:\n  a:\n    generator: {type: random-string}\n    targets: \
         [{type: local-file, path: .env}, {type: jenkins-credential}]\n",
    );
    assert_eq!(run(&jenkins, &project, &["sync"]).code, 0);
    let old = dotenv_value(&project.path(".env"), "A").unwrap();

    // A new value reaches Jenkins, but the read-only file is left alone.
    let readonly = std::fs::Permissions::from_mode(0o444);
    std::fs::set_permissions(project.path(".env"), readonly).unwrap();
    let forced = run(&jenkins, &project, &["sync", "--force", "-s", "a"]);
    assert_eq!(forced.code, 1, "{forced:?}");
    let new = jenkins.credential("", "_", "a").unwrap().fields["secret"].clone();
    assert_ne!(new, old);

    // The file still holds what was last written to it; the new value is only in Jenkins,
    // which never gives it back. Copying the old value over it would undo the change.
    std::fs::set_permissions(project.path(".env"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let sync = run(&jenkins, &project, &["sync"]);
    assert_eq!(sync.code, 1, "{sync:?}");
    assert!(
        sync.all_output().contains(
            "local-file:.env#A still holds the value from before its last change (the write \
             there failed), and the current value is only in jenkins-credential::a, which never \
             gives it back; `sync --force -s a` makes a new value for every target"
        ),
        "{sync:?}"
    );
    assert_eq!(jenkins.credential("", "_", "a").unwrap().fields["secret"], new);
    assert_eq!(dotenv_value(&project.path(".env"), "A"), Some(old));
}
