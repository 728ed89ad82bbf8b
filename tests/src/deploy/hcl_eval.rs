//! Just enough of Terraform's expression language to read the deployment: literals,
//! objects, `local.*` references, `merge`, `tostring`, `nonsensitive`, `concat`, `flatten`, `distinct`,
//! list `for` expressions, both branches of a conditional, string templates, and
//! references the caller names (module outputs, variables) with example values. Anything
//! else is `Unknown`, with its source text.

use std::collections::BTreeMap;

use hcl::{Expression, ObjectKey, TraversalOperator};

#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    Str(String),
    List(Vec<Val>),
    Obj(BTreeMap<String, Val>),
    Unknown(String),
}

impl Val {
    pub fn get(&self, key: &str) -> Option<&Val> {
        match self {
            Val::Obj(fields) => fields.get(key),
            _ => None,
        }
    }

    pub fn str(&self) -> Option<&str> {
        match self {
            Val::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The strings of a list (other items left out).
    pub fn strings(&self) -> Vec<String> {
        match self {
            Val::List(items) => items
                .iter()
                .filter_map(|i| i.str().map(String::from))
                .collect(),
            _ => Vec::new(),
        }
    }

    pub fn fields(&self) -> BTreeMap<String, Val> {
        match self {
            Val::Obj(fields) => fields.clone(),
            _ => BTreeMap::new(),
        }
    }
}

pub fn text(expr: &Expression) -> String {
    hcl::format::to_string(expr).unwrap_or_default()
}

pub struct Scope<'a> {
    pub locals: &'a BTreeMap<String, Expression>,
    /// References by their source text (`module.table.arn`), with the value to use.
    pub symbols: BTreeMap<String, Val>,
}

impl Scope<'_> {
    pub fn eval(&self, expr: &Expression) -> Val {
        match expr {
            Expression::String(s) => Val::Str(s.clone()),
            Expression::TemplateExpr(template) => Val::Str(self.render(&template.to_string())),
            Expression::Array(items) => Val::List(items.iter().map(|i| self.eval(i)).collect()),
            Expression::Object(fields) => Val::Obj(
                fields
                    .iter()
                    .map(|(key, value)| (self.key(key), self.eval(value)))
                    .collect(),
            ),
            Expression::Parenthesis(inner) => self.eval(inner),
            Expression::Traversal(traversal) => self.traverse(expr, traversal),
            Expression::Variable(_) => self.symbol(expr),
            Expression::FuncCall(call) => match call.name.name.as_str() {
                "merge" => {
                    let mut merged = BTreeMap::new();
                    for arg in &call.args {
                        merged.extend(self.eval(arg).fields());
                    }
                    Val::Obj(merged)
                }
                "tostring" | "nonsensitive" => self.eval(&call.args[0]),
                "concat" => {
                    let mut items = Vec::new();
                    for arg in &call.args {
                        match self.eval(arg) {
                            Val::List(more) => items.extend(more),
                            _ => return Val::Unknown(text(expr)),
                        }
                    }
                    Val::List(items)
                }
                "flatten" => match self.eval(&call.args[0]) {
                    Val::List(items) => Val::List(flatten(items)),
                    _ => Val::Unknown(text(expr)),
                },
                "distinct" => match self.eval(&call.args[0]) {
                    Val::List(items) => Val::List(distinct(items)),
                    _ => Val::Unknown(text(expr)),
                },
                _ => Val::Unknown(text(expr)),
            },
            Expression::ForExpr(for_expr) => self.for_list(expr, for_expr),
            // Keys (or items) either branch may give (e.g. `var.llm == null ? {} : {...}`).
            Expression::Conditional(conditional) => {
                match (
                    self.eval(&conditional.true_expr),
                    self.eval(&conditional.false_expr),
                ) {
                    (Val::Obj(mut a), Val::Obj(b)) => {
                        a.extend(b);
                        Val::Obj(a)
                    }
                    (Val::List(mut a), Val::List(b)) => {
                        a.extend(b);
                        Val::List(distinct(a))
                    }
                    _ => Val::Unknown(text(expr)),
                }
            }
            _ => Val::Unknown(text(expr)),
        }
    }

    /// `[for x in list : value]`: the value for each item, with `x` bound to it.
    fn for_list(&self, expr: &Expression, for_expr: &hcl::expr::ForExpr) -> Val {
        if for_expr.key_expr.is_some() || for_expr.cond_expr.is_some() {
            return Val::Unknown(text(expr));
        }
        let Val::List(items) = self.eval(&for_expr.collection_expr) else {
            return Val::Unknown(text(expr));
        };
        let values = items
            .into_iter()
            .enumerate()
            .map(|(index, item)| {
                let mut symbols = self.symbols.clone();
                symbols.insert(for_expr.value_var.to_string(), item);
                if let Some(key) = &for_expr.key_var {
                    symbols.insert(key.to_string(), Val::Str(index.to_string()));
                }
                Scope {
                    locals: self.locals,
                    symbols,
                }
                .eval(&for_expr.value_expr)
            })
            .collect();
        Val::List(values)
    }

    fn key(&self, key: &ObjectKey) -> String {
        match key {
            ObjectKey::Identifier(id) => id.to_string(),
            ObjectKey::Expression(expr) => match self.eval(expr) {
                Val::Str(s) => s,
                _ => text(expr),
            },
            _ => String::new(),
        }
    }

    fn symbol(&self, expr: &Expression) -> Val {
        let source = text(expr);
        self.symbols
            .get(&source)
            .cloned()
            .unwrap_or(Val::Unknown(source))
    }

    fn traverse(&self, expr: &Expression, traversal: &hcl::Traversal) -> Val {
        if let Some(known) = self.symbols.get(&text(expr)) {
            return known.clone();
        }
        let Expression::Variable(root) = &traversal.expr else {
            return Val::Unknown(text(expr));
        };
        if root.as_str() != "local" {
            return self.symbol(expr);
        }
        let mut operators = traversal.operators.iter();
        let Some(TraversalOperator::GetAttr(name)) = operators.next() else {
            return Val::Unknown(text(expr));
        };
        let Some(local) = self.locals.get(name.as_str()) else {
            return Val::Unknown(text(expr));
        };
        let mut value = self.eval(local);
        for operator in operators {
            let key = match operator {
                TraversalOperator::GetAttr(id) => id.to_string(),
                TraversalOperator::Index(index) => match self.eval(index) {
                    Val::Str(s) => s,
                    _ => return Val::Unknown(text(expr)),
                },
                _ => return Val::Unknown(text(expr)),
            };
            value = match value.get(&key) {
                Some(v) => v.clone(),
                None => return Val::Unknown(text(expr)),
            };
        }
        value
    }

    /// `"${module.table.arn}/index/*"` with each interpolation evaluated.
    fn render(&self, template: &str) -> String {
        let mut out = String::new();
        let mut rest = template;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let Some(end) = rest[start..].find('}') else {
                break;
            };
            let inner = &rest[start + 2..start + end];
            let value = hcl::parse(&format!("x = {inner}"))
                .ok()
                .and_then(|body| body.attributes().next().map(|a| self.eval(a.expr())));
            match value {
                Some(Val::Str(s)) => out.push_str(&s),
                _ => out.push_str(&format!("${{{inner}}}")),
            }
            rest = &rest[start + end + 1..];
        }
        out.push_str(rest);
        out
    }
}

fn flatten(items: Vec<Val>) -> Vec<Val> {
    items
        .into_iter()
        .flat_map(|item| match item {
            Val::List(inner) => flatten(inner),
            other => vec![other],
        })
        .collect()
}

fn distinct(items: Vec<Val>) -> Vec<Val> {
    let mut seen = Vec::new();
    for item in items {
        if !seen.contains(&item) {
            seen.push(item);
        }
    }
    seen
}
