use super::{Arg, Function, Intrinsic};
use crate::path::Path;
use serde_json::Value;

pub(super) fn parse(text: &str) -> Result<Intrinsic, String> {
    let mut parser = Parser { text, pos: 0 };
    let call = parser.call()?;
    parser.skip_spaces();
    if parser.pos != text.len() {
        return Err(format!(
            "unexpected '{}' after the closing parenthesis",
            &text[parser.pos..]
        ));
    }
    Ok(call)
}

struct Parser<'t> {
    text: &'t str,
    pos: usize,
}

impl<'t> Parser<'t> {
    fn rest(&self) -> &'t str {
        &self.text[self.pos..]
    }

    fn skip_spaces(&mut self) {
        let trimmed = self.rest().trim_start();
        self.pos = self.text.len() - trimmed.len();
    }

    fn eat(&mut self, c: char) -> bool {
        self.skip_spaces();
        if self.rest().starts_with(c) {
            self.pos += c.len_utf8();
            true
        } else {
            false
        }
    }

    fn call(&mut self) -> Result<Intrinsic, String> {
        self.skip_spaces();
        let name_len = self.rest().find('(').ok_or_else(|| {
            format!(
                "'{}' is not an intrinsic call: expected '(' after the function name",
                self.text
            )
        })?;
        let name = self.rest()[..name_len].trim();
        let function = Function::from_name(name).ok_or_else(|| {
            format!("'{name}' is not an intrinsic function (names are case-sensitive, e.g. States.Format)")
        })?;
        self.pos += name_len + 1;
        let mut args = Vec::new();
        if !self.eat(')') {
            loop {
                args.push(self.arg()?);
                if self.eat(')') {
                    break;
                }
                if !self.eat(',') {
                    return Err(format!("{name}: expected ',' or ')' at '{}'", self.rest()));
                }
            }
        }
        check_arity(function, &args)?;
        Ok(Intrinsic { function, args })
    }

    fn arg(&mut self) -> Result<Arg, String> {
        self.skip_spaces();
        let rest = self.rest();
        if rest.starts_with('\'') {
            return self.string();
        }
        if rest.starts_with("States.") {
            return Ok(Arg::Call(Box::new(self.call()?)));
        }
        let end = self.token_end();
        let token = rest[..end].trim_end();
        self.pos += end;
        if token.starts_with('$') {
            return Path::parse(token).map(Arg::Path);
        }
        match token {
            "true" => Ok(Arg::Literal(Value::Bool(true))),
            "false" => Ok(Arg::Literal(Value::Bool(false))),
            "null" => Ok(Arg::Literal(Value::Null)),
            _ => match serde_json::from_str::<serde_json::Number>(token) {
                Ok(number) => Ok(Arg::Literal(Value::Number(number))),
                Err(_) => Err(format!(
                    "'{token}' is not an argument: use a 'quoted string', a number, true, false, null, a path or an intrinsic"
                )),
            },
        }
    }

    /// The end of a bare argument: the next ',' or ')' outside brackets and quotes.
    fn token_end(&self) -> usize {
        let (mut depth, mut quote) = (0i32, None::<char>);
        for (i, c) in self.rest().char_indices() {
            match (quote, c) {
                (Some(q), c) if c == q => quote = None,
                (Some(_), _) => {}
                (None, '\'' | '"') => quote = Some(c),
                (None, '[' | '(') => depth += 1,
                (None, ']') => depth -= 1,
                (None, ')') if depth > 0 => depth -= 1,
                (None, ',' | ')') if depth == 0 => return i,
                _ => {}
            }
        }
        self.rest().len()
    }

    fn string(&mut self) -> Result<Arg, String> {
        let start = self.pos + 1;
        let mut value = String::new();
        let mut chars = self.text[start..].char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some((_, escaped @ ('\'' | '\\' | '{' | '}'))) => value.push(escaped),
                    Some((_, other)) => {
                        return Err(format!(
                            "'\\{other}' is not an escape in an intrinsic string; escape only \\' \\{{ \\}} and \\\\"
                        ));
                    }
                    None => break,
                },
                '\'' => {
                    let raw = self.text[start..start + i].to_owned();
                    self.pos = start + i + 1;
                    return Ok(Arg::Str { raw, value });
                }
                _ => value.push(c),
            }
        }
        Err(format!(
            "unterminated string in '{}': close it with '",
            self.text
        ))
    }
}

fn check_arity(function: Function, args: &[Arg]) -> Result<(), String> {
    use Function::*;
    let count = args.len();
    let (min, max) = match function {
        Format => (1, usize::MAX),
        Array => (0, usize::MAX),
        Uuid => (0, 0),
        StringToJson | JsonToString | ArrayLength | ArrayUnique | Base64Encode | Base64Decode => {
            (1, 1)
        }
        ArrayPartition | ArrayContains | ArrayGetItem | Hash | MathAdd | StringSplit => (2, 2),
        ArrayRange | JsonMerge => (3, 3),
        MathRandom => (2, 3),
    };
    if count < min || count > max {
        let expected = match (min, max) {
            (a, b) if a == b => format!("{a}"),
            (a, usize::MAX) => format!("at least {a}"),
            (a, b) => format!("{a} or {b}"),
        };
        return Err(format!(
            "{} takes {expected} argument(s), got {count}",
            function.name()
        ));
    }
    if function == JsonToString && !matches!(args[0], Arg::Path(_)) {
        return Err("States.JsonToString's argument must be a path".into());
    }
    if function == Format
        && let Arg::Str { raw, .. } = &args[0]
    {
        let placeholders = super::eval::count_placeholders(raw);
        if placeholders != count - 1 {
            return Err(format!(
                "States.Format's template has {placeholders} '{{}}' placeholder(s) but {} value(s) follow it",
                count - 1
            ));
        }
    }
    Ok(())
}
