//! Several writes sent to the database as one call: one hop to a SQLite
//! connection's thread, one round trip to PostgreSQL. Each backend joins
//! the statements its own way (`batch_sql`: in order on SQLite, as
//! data-modifying `WITH` parts on PostgreSQL, where they must not depend on
//! one another's order).

use sqlx::{Arguments, Database, Encode, Type};

use crate::error::{Error, Result};

/// Statements and their arguments, gathered before one call.
pub(crate) struct Batch<DB: Database> {
    statements: Vec<String>,
    arguments: <DB as Database>::Arguments<'static>,
    bound: usize,
}

impl<DB: Database> Batch<DB> {
    /// An empty batch.
    pub(crate) fn new() -> Self {
        Self {
            statements: Vec::new(),
            arguments: Default::default(),
            bound: 0,
        }
    }

    /// Adds a statement whose parameters are numbered `$1`, `$2`, ... in
    /// the order of the [`Self::bind`] calls that follow it.
    pub(crate) fn push(&mut self, sql: &str) -> &mut Self {
        self.statements.push(renumber(sql, self.bound));
        self
    }

    /// Binds the next parameter of the last statement pushed.
    pub(crate) fn bind<T>(&mut self, value: T) -> Result<&mut Self>
    where
        T: 'static + Encode<'static, DB> + Type<DB>,
    {
        self.arguments.add(value).map_err(Error::internal)?;
        self.bound += 1;
        Ok(self)
    }

    /// Whether nothing was pushed.
    pub(crate) fn is_empty(&self) -> bool {
        self.statements.is_empty()
    }

    /// The statements, and the arguments for all of them.
    pub(crate) fn into_parts(self) -> (Vec<String>, <DB as Database>::Arguments<'static>) {
        (self.statements, self.arguments)
    }
}

/// `sql` with every `$N` raised by `offset`. Our statements hold no `$`
/// other than parameters.
fn renumber(sql: &str, offset: usize) -> String {
    if offset == 0 {
        return sql.to_owned();
    }
    let mut out = String::with_capacity(sql.len() + 8);
    let mut rest = sql;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..=at]);
        rest = &rest[at + 1..];
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        match rest[..digits].parse::<usize>() {
            Ok(n) => out.push_str(&(n + offset).to_string()),
            Err(_) => out.push_str(&rest[..digits]),
        }
        rest = &rest[digits..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::renumber;

    #[test]
    fn parameters_are_raised_by_the_offset_and_nothing_else_changes() {
        assert_eq!(
            renumber("INSERT INTO t (a, b, c) VALUES ($1, $2, $1)", 10),
            "INSERT INTO t (a, b, c) VALUES ($11, $12, $11)"
        );
        assert_eq!(renumber("SELECT $9, $10", 0), "SELECT $9, $10");
        assert_eq!(renumber("SELECT $9, $10", 1), "SELECT $10, $11");
        assert_eq!(renumber("SELECT 'a' || $", 3), "SELECT 'a' || $");
    }
}
