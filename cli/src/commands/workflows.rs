//! `skein workflows apply|list|show`, and the offline `skein compile` and `skein graph`.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand, ValueEnum};
use serde_json::Value;
use skein_agents::{BuiltinSettings, Builtins};
use skein_cli::client::{ApiClient, CliError};
use skein_core::Error;
use skein_core::workflows::{Known, Target, Workflow, compile, graph, parse_definition, validate};

use super::{Remote, text};

#[derive(Subcommand)]
pub enum WorkflowsCommand {
    /// Register workflow files; a changed definition becomes the workflow's next version.
    Apply {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        #[command(flatten)]
        remote: Remote,
    },
    /// List registered workflows.
    List {
        #[command(flatten)]
        remote: Remote,
    },
    /// Show a workflow's latest (or given) version, with its definition.
    Show {
        name: String,
        #[arg(long)]
        version: Option<u32>,
        #[command(flatten)]
        remote: Remote,
    },
}

pub async fn run(command: WorkflowsCommand) -> Result<(), CliError> {
    match command {
        WorkflowsCommand::Apply { files, remote } => {
            let client = remote.client()?;
            let total = files.len();
            let mut refused = Vec::new();
            for file in files {
                match apply(&client, &file).await {
                    Ok(registered) => remote.print(&registered, |v| {
                        format!(
                            "{} v{} registered from {}",
                            text(v, "workflow"),
                            text(v, "version"),
                            file.display()
                        )
                    }),
                    // Without a server no other file can fare better.
                    Err(unreachable @ CliError::Unreachable { .. }) => return Err(unreachable),
                    Err(refusal) if total == 1 => return Err(refusal),
                    Err(refusal) => {
                        eprintln!("error: {refusal}");
                        refused.push(file);
                    }
                }
            }
            match refused.len() {
                0 => Ok(()),
                n => Err(CliError::Other(format!(
                    "{n} of {total} workflow files were refused (each is reported above): {}",
                    refused
                        .iter()
                        .map(|f| f.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))),
            }
        }
        WorkflowsCommand::List { remote } => {
            let page = remote.client()?.get("/v1/workflows?limit=200").await?;
            remote.print(&page, |page| {
                let mut out = format!("{:<32} {:>7} {:<9} DESCRIPTION", "NAME", "VERSION", "MODE");
                for w in page["items"].as_array().into_iter().flatten() {
                    out += &format!(
                        "\n{:<32} {:>7} {:<9} {}",
                        text(w, "name"),
                        text(w, "latest_version"),
                        text(w, "mode"),
                        text(w, "description")
                    );
                }
                out
            });
            Ok(())
        }
        WorkflowsCommand::Show {
            name,
            version,
            remote,
        } => {
            let v = version.map_or("latest".to_string(), |v| v.to_string());
            let found = remote
                .client()?
                .get(&format!("/v1/workflows/{name}/versions/{v}"))
                .await?;
            remote.print(&found, |v| {
                serde_json::to_string_pretty(&v["definition"]).unwrap_or_default()
            });
            Ok(())
        }
    }
}

/// Registers one file, returning the version the server answers with.
pub async fn apply(client: &ApiClient, file: &Path) -> Result<Value, CliError> {
    let body = read(file)?;
    client
        .post_text("/v1/workflows", body, "application/yaml")
        .await
        .map(|v| v.unwrap_or(Value::Null))
        .map_err(|e| match e {
            CliError::Api {
                status,
                detail,
                fields,
            } => CliError::Api {
                status,
                detail: format!("{}: {detail}", file.display()),
                fields,
            },
            other => other,
        })
}

fn read(file: &Path) -> Result<String, CliError> {
    std::fs::read_to_string(file)
        .map_err(|e| CliError::Usage(format!("cannot read {}: {e}", file.display())))
}

/// Reads and validates a workflow file with no server: names of agents and workflows
/// are not checked (the server checks them on apply), everything else is.
pub fn load(file: &Path) -> Result<Workflow, CliError> {
    let builtins = Builtins::new(BuiltinSettings::default());
    let known = Known {
        builtins: Some(&builtins),
        ..Known::default()
    };
    parse_definition(&read(file)?)
        .and_then(|d| validate(d, &known))
        .map_err(|e| match e {
            Error::Validation(errors) => {
                let lines: String = errors
                    .iter()
                    .map(|e| format!("\n  {}: {}", e.path, e.message))
                    .collect();
                CliError::Usage(format!(
                    "{} is not a valid workflow:{lines}",
                    file.display()
                ))
            }
            other => CliError::Usage(format!("{}: {other}", file.display())),
        })
}

#[derive(Args)]
pub struct CompileArgs {
    /// A workflow file (YAML or JSON).
    file: PathBuf,
    /// The tenant the ASL is compiled for.
    #[arg(long, default_value = "default")]
    tenant: String,
    /// The SQS queue URL step messages go to (standard mode).
    #[arg(long, default_value = skein_core::workflows::compile::LOCAL_STEP_QUEUE)]
    step_queue_url: String,
    /// The step-worker function express steps invoke.
    #[arg(long, default_value = skein_core::workflows::compile::LOCAL_WORKER_FUNCTION)]
    worker_function: String,
}

/// Prints the ASL a workflow file compiles to.
pub fn compile_file(args: CompileArgs) -> Result<(), CliError> {
    let workflow = load(&args.file)?;
    let target = Target {
        tenant: args.tenant,
        workflow: workflow.definition.name.clone(),
        version: 1,
        step_queue_url: args.step_queue_url,
        worker_function: args.worker_function,
    };
    println!(
        "{}",
        serde_json::to_string_pretty(&compile(&workflow, &target)).unwrap_or_default()
    );
    Ok(())
}

#[derive(Clone, Copy, ValueEnum)]
pub enum GraphFormat {
    Mermaid,
    Dot,
}

#[derive(Args)]
pub struct GraphArgs {
    /// A workflow file, or the name of a registered workflow.
    workflow: String,
    #[arg(long, value_enum, default_value = "mermaid")]
    format: GraphFormat,
    #[command(flatten)]
    remote: Remote,
}

/// Prints the workflow's DAG, from a file (offline) or from the server.
pub async fn graph_of(args: GraphArgs) -> Result<(), CliError> {
    let path = Path::new(&args.workflow);
    if path.exists() {
        let workflow = load(path)?;
        let picture = match args.format {
            GraphFormat::Mermaid => graph::mermaid(&workflow),
            GraphFormat::Dot => graph::dot(&workflow),
        };
        print!("{picture}");
        return Ok(());
    }
    let format = match args.format {
        GraphFormat::Mermaid => "mermaid",
        GraphFormat::Dot => "dot",
    };
    let picture = args
        .remote
        .client()?
        .get(&format!(
            "/v1/workflows/{}/graph?format={format}",
            args.workflow
        ))
        .await?;
    print!("{}", picture.as_str().unwrap_or_default());
    Ok(())
}
