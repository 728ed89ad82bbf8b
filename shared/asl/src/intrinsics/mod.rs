//! Intrinsic functions (`States.Format('{}', $.x)` and friends): a parser that checks names
//! and argument counts when the definition is loaded, and an evaluator with AWS's rules.

mod eval;
mod parse;

pub use eval::EvalError;
pub(crate) use eval::apply;

use crate::path::Path;
use serde_json::Value;

/// A parsed intrinsic call.
#[derive(Debug, Clone)]
pub struct Intrinsic {
    pub function: Function,
    pub args: Vec<Arg>,
}

#[derive(Debug, Clone)]
pub enum Arg {
    /// A quoted string. `raw` keeps `\{` and `\}` escapes for `States.Format`'s template.
    Str {
        raw: String,
        value: String,
    },
    Literal(Value),
    Path(Path),
    Call(Box<Intrinsic>),
}

macro_rules! functions {
    ($($variant:ident => $name:literal),* $(,)?) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Function { $($variant),* }
        impl Function {
            pub fn name(self) -> &'static str {
                match self { $(Function::$variant => $name),* }
            }
            fn from_name(name: &str) -> Option<Function> {
                match name { $($name => Some(Function::$variant),)* _ => None }
            }
        }
    };
}

functions! {
    Format => "States.Format",
    StringToJson => "States.StringToJson",
    JsonToString => "States.JsonToString",
    Array => "States.Array",
    ArrayPartition => "States.ArrayPartition",
    ArrayContains => "States.ArrayContains",
    ArrayRange => "States.ArrayRange",
    ArrayGetItem => "States.ArrayGetItem",
    ArrayLength => "States.ArrayLength",
    ArrayUnique => "States.ArrayUnique",
    Base64Encode => "States.Base64Encode",
    Base64Decode => "States.Base64Decode",
    Hash => "States.Hash",
    JsonMerge => "States.JsonMerge",
    MathRandom => "States.MathRandom",
    MathAdd => "States.MathAdd",
    StringSplit => "States.StringSplit",
    Uuid => "States.UUID",
}

impl Intrinsic {
    /// Parses `States.Name(args...)`, checking the function exists and its argument count.
    pub fn parse(text: &str) -> Result<Intrinsic, String> {
        parse::parse(text)
    }

    pub fn eval(&self, scope: &dyn crate::path::Scope) -> Result<Value, EvalError> {
        eval::eval(self, scope)
    }
}

/// Whether a `.$` value is an intrinsic call rather than a path.
pub fn looks_like_intrinsic(text: &str) -> bool {
    text.starts_with("States.")
}
