//! `secretzero init`: a commented starter Secretfile that validates and syncs as it is.

use std::io::Write;

use clap::Args;

use super::{CliError, Exit, GlobalArgs, Ui};

#[derive(Debug, Args)]
pub struct InitArgs {}

pub const STARTER: &str = r#"# Secretfile.yml: the secrets this project needs, and where they live.
# Reference: the Secretfile section of the SecretZero README.
version: "1.0"

metadata:
  name: my-project
  owner: platform-team
  # Compliance frameworks this project follows, such as [soc2] or [iso27001].
  compliance: []

# Variables render in order; `{{ env.X or 'default' }}` reads the environment.
variables:
  environment: "{{ env.ENVIRONMENT or 'development' }}"

secrets:
  # One value. Set API_KEY in the environment to use an existing value instead.
  api_key:
    description: Key that clients send to our API
    generator:
      type: random-string
      length: 32
      charset: alphanumeric
    rotation_period: 90d
    targets:
      - type: local-file
        path: .env
        format: dotenv        # writes API_KEY=...

  # Several fields under one name: DATABASE_USERNAME and DATABASE_PASSWORD in .env.
  database:
    template:
      type: database_credentials
      fields:
        - name: username
          generator: {type: static, value: app}
        - name: password
          generator:
            type: random-password
            length: 32
    rotation_period: 90d
    targets:
      - type: local-file
        path: .env
"#;

pub fn run(global: &GlobalArgs, _: &InitArgs, ui: &Ui) -> Result<Exit, CliError> {
    let path = &global.file;
    let write_error = |source| CliError::Write { path: path.clone(), source };
    // create_new refuses an existing file atomically, so two runs cannot both write it.
    let mut file = match std::fs::OpenOptions::new().write(true).create_new(true).open(path) {
        Ok(file) => file,
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(CliError::Exists { path: path.clone() });
        }
        Err(error) => return Err(write_error(error)),
    };
    file.write_all(STARTER.as_bytes()).map_err(write_error)?;
    ui.done(&format!("Created {}", path.display()));
    ui.info("Next: edit it, then run `secretzero validate` and `secretzero sync`.");
    Ok(Exit::Success)
}
