//! Settings the builtins need from the deployment, read once at start.

/// The protocol the deployment's LLM endpoint speaks (`SKEIN_LLM_PROVIDER`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LlmProvider {
    /// OpenAI's chat completions, which most model servers also speak.
    #[default]
    OpenAi,
    /// Anthropic's Messages API.
    Anthropic,
    /// Amazon Bedrock's Converse API, signed with SigV4 (or a Bedrock API key).
    Bedrock,
}

impl LlmProvider {
    /// The name of the variable that chooses it.
    pub const VARIABLE: &'static str = "SKEIN_LLM_PROVIDER";

    pub fn parse(name: &str) -> Result<LlmProvider, String> {
        match name.trim() {
            "openai" => Ok(LlmProvider::OpenAi),
            "anthropic" => Ok(LlmProvider::Anthropic),
            "bedrock" => Ok(LlmProvider::Bedrock),
            other => Err(format!(
                "`{other}` is not an LLM provider; use `openai` (chat completions, also what most model servers speak), `anthropic` (Messages) or `bedrock` (Amazon Bedrock's Converse)"
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            LlmProvider::OpenAi => "openai",
            LlmProvider::Anthropic => "anthropic",
            LlmProvider::Bedrock => "bedrock",
        }
    }
}

/// Where the `llm` builtin sends its prompts.
#[derive(Debug, Clone)]
pub struct LlmSettings {
    pub provider: LlmProvider,
    /// The API root, e.g. `https://api.openai.com/v1`, `https://api.anthropic.com/v1` or
    /// `https://bedrock-runtime.us-east-1.amazonaws.com`.
    pub base_url: String,
    /// The provider's key; for Bedrock, an optional Bedrock API key (bearer) instead of
    /// SigV4.
    pub api_key: Option<String>,
    pub default_model: String,
    /// Bedrock's signing region (`AWS_REGION`); else the one in `base_url`'s host.
    pub region: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct BuiltinSettings {
    pub llm: Option<LlmSettings>,
    /// The credentials Bedrock calls are signed with: the host's AWS SDK configuration
    /// (on Lambda, the function's role). When absent, the SDK's default chain
    /// (environment, profile) is read at the first call.
    pub aws_credentials: Option<aws_credential_types::provider::SharedCredentialsProvider>,
    /// What `http` steps may reach (`SKEIN_HTTP_ALLOW`); the default allows only
    /// globally routable addresses.
    pub egress: crate::egress::EgressPolicy,
}
