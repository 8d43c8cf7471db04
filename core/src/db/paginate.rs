//! One way to list: a validated [`PageRequest`], and `.paginate(page)` on any diesel query that
//! loads one page and the total in one round trip (`COUNT(*) OVER ()`, the way crates.io does
//! it), instead of every list building its filtered query twice for a count and a page.
//!
//! ```ignore
//! let page = users::table.into_boxed().filter(..).order(users::created_at)
//!     .select(User::as_select())
//!     .paginate(request)
//!     .load_page::<User>(conn)
//!     .await?;
//! ```

use diesel::QueryResult;
use diesel::pg::Pg;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::BigInt;
use diesel_async::methods::LoadQuery;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::Serialize;

use crate::error::{Error, Result};

/// A validated page of a list: 1-based number and size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PageRequest {
    pub number: u32,
    pub size: u32,
}

impl Default for PageRequest {
    fn default() -> Self {
        Self {
            number: 1,
            size: Self::DEFAULT_SIZE,
        }
    }
}

impl PageRequest {
    pub const DEFAULT_SIZE: u32 = 20;
    pub const MAX_SIZE: u32 = 100;

    /// `page` and `pageSize` as a client sent them; absent values take the defaults.
    pub fn new(page: Option<u32>, size: Option<u32>) -> Result<Self> {
        let number = page.unwrap_or(1);
        let size = size.unwrap_or(Self::DEFAULT_SIZE);
        if number == 0 {
            return Err(Error::validation("page", "must be at least 1"));
        }
        if size == 0 || size > Self::MAX_SIZE {
            return Err(Error::validation(
                "pageSize",
                format!("must be between 1 and {}", Self::MAX_SIZE),
            ));
        }
        Ok(Self { number, size })
    }

    /// A page of `size` rows starting at row `offset` (for jobs that read a table in chunks).
    pub fn at_offset(offset: i64, size: u32) -> Self {
        let size = size.max(1);
        Self {
            number: u32::try_from(offset.max(0) / i64::from(size) + 1).unwrap_or(u32::MAX),
            size,
        }
    }

    pub fn offset(&self) -> i64 {
        (i64::from(self.number) - 1) * i64::from(self.size)
    }

    pub fn limit(&self) -> i64 {
        i64::from(self.size)
    }
}

/// One page of rows and the size of the whole list.
#[derive(Debug, Clone)]
pub struct Paged<T> {
    pub items: Vec<T>,
    pub total: i64,
    pub page: PageRequest,
}

impl<T> Paged<T> {
    pub fn total_pages(&self) -> u32 {
        let size = i64::from(self.page.size);
        u32::try_from((self.total + size - 1) / size).unwrap_or(u32::MAX)
    }

    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Paged<U> {
        Paged {
            items: self.items.into_iter().map(f).collect(),
            total: self.total,
            page: self.page,
        }
    }
}

pub trait Paginate: Sized {
    fn paginate(self, page: PageRequest) -> Paginated<Self>;
}

impl<T: Query> Paginate for T {
    fn paginate(self, page: PageRequest) -> Paginated<Self> {
        Paginated { query: self, page }
    }
}

/// A query limited to one page.
#[derive(Debug)]
pub struct Paginated<T> {
    query: T,
    page: PageRequest,
}

impl<T> Paginated<T>
where
    T: QueryFragment<Pg> + Query + Send,
{
    /// The page's rows and the list's total, in one query. A page past the end has no rows to
    /// carry the total and reports 0, as crates.io's does; clients page from the first page.
    ///
    /// The query must own its values (`'static`): a query borrowing from the caller makes
    /// the future's `Send` bound unprovable for async handlers.
    pub async fn load_page<U>(self, conn: &mut AsyncPgConnection) -> Result<Paged<U>>
    where
        T: 'static,
        PageSql<T>: LoadQuery<'static, AsyncPgConnection, (U, i64)>,
        U: Send + 'static,
    {
        let page = self.page;
        // Boxed as a `Send` future here, where the query's type is known: callers' async fns
        // (and async-trait handlers) could not otherwise prove their own futures `Send`.
        let rows: futures::future::BoxFuture<'_, diesel::QueryResult<Vec<(U, i64)>>> = Box::pin(
            PageSql {
                query: self.query,
                page,
            }
            .load(conn),
        );
        let rows = rows.await?;
        let total = rows.as_slice().first().map_or(0, |(_, total)| *total);
        Ok(Paged {
            items: rows.into_iter().map(|(row, _)| row).collect(),
            total,
            page,
        })
    }
}

/// `SELECT *, COUNT(*) OVER () FROM (query) LIMIT … OFFSET …`: the window count is taken over
/// every row before the limit applies. The subquery's ORDER BY carries through: PostgreSQL
/// scans the sorted subquery in order and an empty window needs no re-sort.
#[doc(hidden)]
pub struct PageSql<T> {
    query: T,
    page: PageRequest,
}

impl<T: Query> Query for PageSql<T> {
    type SqlType = (T::SqlType, BigInt);
}

impl<T> QueryId for PageSql<T> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<T: QueryFragment<Pg>> QueryFragment<Pg> for PageSql<T> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql("SELECT *, COUNT(*) OVER () FROM (");
        self.query.walk_ast(out.reborrow())?;
        out.push_sql(") vigil_page LIMIT ");
        out.push_sql(&self.page.limit().to_string());
        out.push_sql(" OFFSET ");
        out.push_sql(&self.page.offset().to_string());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_requests_are_validated_with_field_names() {
        assert_eq!(
            PageRequest::new(None, None).unwrap(),
            PageRequest::default()
        );
        let err = PageRequest::new(Some(0), None).unwrap_err();
        assert!(matches!(
            err,
            Error::Validation {
                field: Some("page"),
                ..
            }
        ));
        let err = PageRequest::new(None, Some(101)).unwrap_err();
        assert!(matches!(
            err,
            Error::Validation {
                field: Some("pageSize"),
                ..
            }
        ));
        let p = PageRequest::new(Some(3), Some(10)).unwrap();
        assert_eq!((p.offset(), p.limit()), (20, 10));
        assert_eq!(PageRequest::at_offset(2000, 1000).number, 3);
    }

    #[test]
    fn total_pages_round_up() {
        let page = |total| Paged::<()> {
            items: vec![],
            total,
            page: PageRequest::new(Some(1), Some(20)).unwrap(),
        };
        assert_eq!(page(0).total_pages(), 0);
        assert_eq!(page(20).total_pages(), 1);
        assert_eq!(page(21).total_pages(), 2);
    }
}
