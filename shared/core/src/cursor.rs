//! Opaque pagination cursors and the filtered listing loop every list endpoint shares.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::error::{Error, Result};
use crate::ports::{Item, ItemStore, Query, StartAfter};

/// One page of results for an API response.
#[derive(Debug, Clone, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ListPage<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// What a caller asked for: a page size and where to resume.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct PageRequest {
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

/// The largest page a list returns.
pub const MAX_LIMIT: u32 = 200;
/// The page size when none is asked for.
pub const DEFAULT_LIMIT: u32 = 50;

impl PageRequest {
    pub fn size(&self) -> Result<usize> {
        match self.limit {
            None => Ok(DEFAULT_LIMIT as usize),
            Some(n @ 1..=MAX_LIMIT) => Ok(n as usize),
            Some(_) => Err(Error::invalid(
                "$.limit",
                format!("limit must be between 1 and {MAX_LIMIT}"),
            )),
        }
    }

    fn start(&self) -> Result<Option<StartAfter>> {
        let Some(cursor) = &self.cursor else {
            return Ok(None);
        };
        let bad = || {
            Error::BadCursor(
                "pass `next_cursor` from the previous page of the same listing, unchanged".into(),
            )
        };
        let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| bad())?;
        serde_json::from_slice(&bytes).map(Some).map_err(|_| bad())
    }
}

fn encode(position: &StartAfter) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(position).unwrap_or_default())
}

/// Reads `query` page by page, keeping the items `keep` maps to Some, until `page` is
/// full or `max_scanned` items were looked at (then the cursor resumes the scan).
pub async fn list_filtered<T>(
    store: &dyn ItemStore,
    mut query: Query,
    page: &PageRequest,
    max_scanned: usize,
    mut keep: impl FnMut(Item) -> Result<Option<T>>,
) -> Result<ListPage<T>> {
    let want = page.size()?;
    let index = query.index;
    query.after = page.start()?;
    if query
        .after
        .as_ref()
        .is_some_and(|start| !start.fits(&query))
    {
        // Decodable, but not from this listing (forged or from another one): DynamoDB
        // would refuse it as a start key, or start outside the listing.
        return Err(Error::BadCursor(
            "pass `next_cursor` from the previous page of the same listing, unchanged".into(),
        ));
    }
    query.limit = want.max(20);
    let mut items = Vec::new();
    let mut scanned = 0;
    loop {
        let result = store.query(&query).await?;
        let exhausted = result.next.is_none();
        let count = result.items.len();
        for (i, item) in result.items.into_iter().enumerate() {
            scanned += 1;
            let position = StartAfter::of(&item, index);
            if let Some(kept) = keep(item)? {
                items.push(kept);
            }
            if items.len() == want || scanned >= max_scanned {
                let nothing_follows = exhausted && i + 1 == count;
                let next = if nothing_follows {
                    None
                } else {
                    position.as_ref().map(encode)
                };
                return Ok(ListPage {
                    items,
                    next_cursor: next,
                });
            }
        }
        if exhausted {
            return Ok(ListPage {
                items,
                next_cursor: None,
            });
        }
        query.after = result.next;
    }
}
