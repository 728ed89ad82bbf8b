//! What an expression reads from JSONata's context item, which Step Functions never sets.
//!
//! A Step Functions expression is evaluated with no context item: the input is
//! `$states.input` and a workflow variable is `$name`. A path whose first step is a bare name
//! (`phone`, `phone[0].number`), the context item itself (`$`, `$.phone`) or the root (`$$`)
//! reads nothing, and Step Functions refuses the whole definition when it is created, with
//! `UNSUPPORTED_JSONATA_EXPRESSION: Reference to 'phone' at the top level is not supported.`
//!
//! Only a path's first step reads the top-level context. Later steps, predicates, sort terms,
//! object transforms and `.( )` run against the value the step before them produced, so
//! names there are legal and the walk never enters them. A lambda's body keeps the context
//! of the expression that defines it, so `function($x){ b }` names `b`.
//!
//! Source: the cases floci measured with `aws stepfunctions
//! validate-state-machine-definition` (floci-io/floci#2670 and #2699, its
//! `JsonataTopLevelReferencesTest`), which `tests/conformance/jsonata/top-level-references`
//! repeats.

use jsonata_core::ast::{AstNode, PathStep};

/// One thing an expression reads from the missing context item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TopLevelReference {
    /// A field of the context item, by name (`phone`).
    Name(String),
    /// The context item itself (`$`).
    ContextItem,
    /// The root of the input (`$$`).
    Root,
    /// `$states.errorOutput`: not the context item, but it exists only in a Catch's `Output`
    /// and `Assign`, which the field compiling the expression knows, not the expression.
    StatesErrorOutput,
}

impl TopLevelReference {
    /// Step Functions' sentence, with how to write it instead.
    pub(crate) fn message(&self) -> String {
        match self {
            TopLevelReference::Name(name) => format!(
                "Reference to '{name}' at the top level is not supported: read the input as \
                 $states.input.{name}, or a variable as ${name}"
            ),
            TopLevelReference::ContextItem => "Reference to '$' at the top level is not \
                 supported: Step Functions sets no context item; read the input as $states.input"
                .to_owned(),
            TopLevelReference::Root => "Reference to '$$' at the top level is not supported: \
                 read the input as $states.input, the context object as $states.context"
                .to_owned(),
            TopLevelReference::StatesErrorOutput => "$states.errorOutput exists only in a \
                 Catch's Output and Assign: read the error there"
                .to_owned(),
        }
    }
}

/// Every distinct top-level reference in `ast`, in the order they are written.
pub(crate) fn top_level_references(ast: &AstNode) -> Vec<TopLevelReference> {
    let mut found = Vec::new();
    collect(ast, &mut found);
    found
}

fn note(found: &mut Vec<TopLevelReference>, reference: TopLevelReference) {
    if !found.contains(&reference) {
        found.push(reference);
    }
}

fn collect(node: &AstNode, found: &mut Vec<TopLevelReference>) {
    match node {
        AstNode::Name(name) => note(found, TopLevelReference::Name(name.clone())),
        AstNode::Variable(name) if name.is_empty() => note(found, TopLevelReference::ContextItem),
        AstNode::ParentVariable(_) => note(found, TopLevelReference::Root),
        AstNode::Path { steps } => {
            if let Some(PathStep { node, .. }) = steps.first() {
                collect(node, found);
            }
            if reads_states_error_output(steps) {
                note(found, TopLevelReference::StatesErrorOutput);
            }
        }
        AstNode::Binary { lhs, rhs, .. } => {
            collect(lhs, found);
            collect(rhs, found);
        }
        AstNode::Unary { operand, .. } => collect(operand, found),
        // `phone(1)` calls what the context item holds under `phone`.
        AstNode::Function {
            name,
            args,
            is_builtin,
        } => {
            if !is_builtin {
                note(found, TopLevelReference::Name(name.clone()));
            }
            args.iter().for_each(|arg| collect(arg, found));
        }
        AstNode::Call { procedure, args } => {
            collect(procedure, found);
            args.iter().for_each(|arg| collect(arg, found));
        }
        AstNode::Lambda { body, .. } => collect(body, found),
        AstNode::Array(items) | AstNode::Block(items) => {
            items.iter().for_each(|item| collect(item, found));
        }
        AstNode::Object(pairs) => {
            for (key, value) in pairs {
                collect(key, found);
                collect(value, found);
            }
        }
        AstNode::Conditional {
            condition,
            then_branch,
            else_branch,
        } => {
            collect(condition, found);
            collect(then_branch, found);
            if let Some(otherwise) = else_branch {
                collect(otherwise, found);
            }
        }
        // These read what their input produced, not the context item.
        AstNode::ObjectTransform { input, .. } | AstNode::Sort { input, .. } => {
            collect(input, found);
        }
        AstNode::String(_)
        | AstNode::Number(_)
        | AstNode::Boolean(_)
        | AstNode::Null
        | AstNode::Undefined
        | AstNode::Placeholder
        | AstNode::Regex { .. }
        | AstNode::Variable(_)
        | AstNode::Wildcard
        | AstNode::Descendant
        | AstNode::Parent(_)
        | AstNode::ArrayGroup(_)
        | AstNode::FunctionApplication(_)
        | AstNode::Transform { .. } => {}
    }
}

/// Whether a path starts `$states.errorOutput` (whatever follows it).
fn reads_states_error_output(steps: &[PathStep]) -> bool {
    matches!(
        steps,
        [first, second, ..]
            if matches!(&first.node, AstNode::Variable(name) if name == "states")
                && matches!(&second.node, AstNode::Name(name) if name == "errorOutput")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn references(expression: &str) -> Vec<TopLevelReference> {
        top_level_references(&jsonata_core::parser::parse(expression).unwrap())
    }

    fn phone() -> Vec<TopLevelReference> {
        vec![TopLevelReference::Name("phone".into())]
    }

    /// floci's `JsonataTopLevelReferencesTest`: the expressions AWS refuses, naming `phone`.
    #[test]
    fn names_read_from_the_context_item_are_found() {
        for expression in [
            "phone",
            "phone[0].number",
            "phone.number.street",
            "-phone",
            "phone ? 1 : 2",
            "$states.input.a ? phone : 2",
            "phone & 'x'",
            "phone in $states.input.b",
            "$sum(phone)",
            "phone(1)",
            "phone ~> $string()",
            "[1..phone]",
            "(phone)",
            "(phone).other",
            "[phone].other",
            "[phone, 1]",
            "{phone: 1}",
            "($x := phone; $x)",
            "$map($states.input.a, function($y){ phone })",
            "$count(phone[inner])",
            "phone.**.deeper",
        ] {
            assert_eq!(references(expression), phone(), "{expression}");
        }
    }

    /// floci's `JsonataTopLevelReferencesTest`: the expressions AWS accepts.
    #[test]
    fn names_reached_from_states_a_variable_or_an_earlier_step_are_not() {
        for expression in [
            "$states.input.phone",
            "$states.input.a.phone",
            "$states.input.a[0].phone",
            "$states.input.a.phone[0]",
            "$states.input.items[phone > 3]",
            "$states.input.a^(phone)",
            "$states.input.a{'k': phone}",
            "$states.input.a.(phone)",
            "$states.input.a.$phone",
            "$phone",
            "$states.input.a ~> $string()",
            "$states.input ~> |phone|{'b': 1}|",
            "**.phone",
            "{'k': 1}.phone",
            "$states.input.a[0][phone]",
            "$states.input.a[$ > 1]",
            "function($x){ $x.phone }",
            "$map($states.input.a, function($x){ $x.phone })",
            "'phone'",
            "1 + 1",
            "$now()",
        ] {
            assert_eq!(references(expression), vec![], "{expression}");
        }
    }

    #[test]
    fn the_context_item_and_the_root_are_named_apart() {
        for expression in [
            "$",
            "$.phone",
            "$[0]",
            "$string($)",
            "$map($states.input.a, function($x){ $ })",
        ] {
            assert_eq!(
                references(expression),
                vec![TopLevelReference::ContextItem],
                "{expression}"
            );
        }
        for expression in ["$$", "$$.phone"] {
            assert_eq!(
                references(expression),
                vec![TopLevelReference::Root],
                "{expression}"
            );
        }
    }

    /// floci's `JsonataTopLevelReferencesTest`: only the exact path is named.
    #[test]
    fn states_error_output_is_named_on_its_own() {
        for expression in [
            "$states.errorOutput",
            "$states.errorOutput.Cause",
            "[$states.errorOutput]",
            "$states.errorOutput ? 1 : 2",
        ] {
            assert_eq!(
                references(expression),
                vec![TopLevelReference::StatesErrorOutput],
                "{expression}"
            );
        }
        for expression in ["$states.input.errorOutput", "$states.error", "$states"] {
            assert_eq!(references(expression), vec![], "{expression}");
        }
    }

    #[test]
    fn each_distinct_name_is_reported_once_in_writing_order() {
        let names = |expression| -> Vec<String> {
            references(expression)
                .into_iter()
                .map(|reference| match reference {
                    TopLevelReference::Name(name) => name,
                    other => panic!("{other:?}"),
                })
                .collect()
        };
        assert_eq!(names("aaa + bbb"), ["aaa", "bbb"]);
        assert_eq!(names("[bbb, aaa]"), ["bbb", "aaa"]);
        assert_eq!(names("aaa + aaa"), ["aaa"]);
        assert_eq!(names("(aaa; bbb)"), ["aaa", "bbb"]);
        assert_eq!(names("$number(aaa) + $number(bbb)"), ["aaa", "bbb"]);
    }
}
