//! Settings the builtins need from the deployment, read once at start.

/// The protocol the deployment's LLM endpoint speaks (`SKEIN_LLM_PROVIDER`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LlmProvider {
    /// OpenAI's chat completions, which most model servers also speak.
    #[default]
    OpenAi,
    /// Anthropic's Messages API.
    Anthropic,
}

impl LlmProvider {
    /// The name of the variable that chooses it.
    pub const VARIABLE: &'static str = "SKEIN_LLM_PROVIDER";

    pub fn parse(name: &str) -> Result<LlmProvider, String> {
        match name.trim() {
            "openai" => Ok(LlmProvider::OpenAi),
            "anthropic" => Ok(LlmProvider::Anthropic),
            other => Err(format!(
                "`{other}` is not an LLM provider; use `openai` (chat completions, also what most model servers speak) or `anthropic` (Messages)"
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            LlmProvider::OpenAi => "openai",
            LlmProvider::Anthropic => "anthropic",
        }
    }
}

/// Where the `llm` builtin sends its prompts.
#[derive(Debug, Clone)]
pub struct LlmSettings {
    pub provider: LlmProvider,
    /// The API root, e.g. `https://api.openai.com/v1` or `https://api.anthropic.com/v1`.
    pub base_url: String,
    pub api_key: Option<String>,
    pub default_model: String,
}

#[derive(Debug, Clone, Default)]
pub struct BuiltinSettings {
    pub llm: Option<LlmSettings>,
    /// What `http` steps may reach (`SKEIN_HTTP_ALLOW`); the default allows only
    /// globally routable addresses.
    pub egress: crate::egress::EgressPolicy,
}
