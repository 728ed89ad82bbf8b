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
    /// The only other models steps may name (`SKEIN_LLM_MODELS`); empty: any. On AWS with
    /// Bedrock, the models the functions' role may invoke, so a step naming another is
    /// refused when its workflow is registered rather than by Bedrock at run time.
    pub models: Vec<String>,
    /// Bedrock's signing region (`AWS_REGION`); else the one in `base_url`'s host.
    pub region: Option<String>,
}

impl LlmSettings {
    /// The variable that lists the models steps may name besides the default.
    pub const MODELS_VARIABLE: &'static str = "SKEIN_LLM_MODELS";

    /// `a,b, c` as the models it names (blanks ignored).
    pub fn parse_models(list: &str) -> Vec<String> {
        list.split(',')
            .map(str::trim)
            .filter(|m| !m.is_empty())
            .map(str::to_string)
            .collect()
    }

    /// Whether a step may ask for this model.
    pub fn allows(&self, model: &str) -> bool {
        self.models.is_empty()
            || model == self.default_model
            || self.models.iter().any(|m| m == model)
    }

    /// Why a step may not ask for this model, if it may not.
    pub fn refusal(&self, model: &str) -> Option<String> {
        (!self.allows(model)).then(|| {
            let mut allowed = vec![self.default_model.as_str()];
            allowed.extend(
                self.models
                    .iter()
                    .map(String::as_str)
                    .filter(|m| *m != self.default_model),
            );
            format!(
                "`{model}` is not a model this deployment may use; use one of {} (or add it to {})",
                allowed.join(", "),
                Self::MODELS_VARIABLE
            )
        })
    }
}

#[derive(Debug, Clone, Default)]
pub struct BuiltinSettings {
    pub llm: Option<LlmSettings>,
    /// The credentials Bedrock calls are signed with: the host's AWS SDK configuration
    /// (on Lambda, the function's role; on `skein dev`, the SDK's default chain, read at
    /// the first call). Without them, only a Bedrock API key can authorize a call.
    pub aws_credentials: Option<aws_credential_types::provider::SharedCredentialsProvider>,
    /// What `http` steps may reach (`SKEIN_HTTP_ALLOW`); the default allows only
    /// globally routable addresses.
    pub egress: crate::egress::EgressPolicy,
}
