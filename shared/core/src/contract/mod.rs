//! Contract suites that every adapter runs unchanged: SQLite here, DynamoDB and SQS on
//! moto later. `item_store_contract!` and `queue_contract!` expand to one test per case.

pub mod queue;
pub mod store;
mod store_conditions;
mod store_queries;
pub mod usage;

/// Expands to one `#[tokio::test]` per item-store case. `$make` is an expression
/// producing `(guard, Arc<dyn ItemStore>)`: a fresh store, and whatever must live as
/// long as it (a temporary directory, a server handle, or `()`).
#[macro_export]
macro_rules! item_store_contract {
    ($make:expr) => {
        $crate::item_store_contract!(@cases $make;
            a_put_item_reads_back_with_version_one,
            not_exists_refuses_to_overwrite,
            version_conditions_give_optimistic_concurrency,
            updates_set_remove_and_count_atomically,
            concurrent_counter_adds_are_never_lost,
            concurrent_conditional_writes_have_one_winner_per_version,
            update_of_a_missing_item_obeys_its_condition,
            an_unhurried_update_obeys_its_condition_and_is_written_when_answered,
            deletes_obey_their_condition,
            queries_return_a_partition_in_sort_key_order_page_by_page,
            queries_filter_by_prefix_and_range_and_run_backwards,
            secondary_indexes_are_sparse_and_follow_rewrites,
            a_query_resumes_after_any_item,
            transactions_are_all_or_nothing_and_name_the_failed_operations,
            expired_items_are_absent_everywhere,
        );

        #[tokio::test]
        async fn concurrent_budget_holds_never_pass_the_budget() {
            let (_guard, store) = $make;
            $crate::contract::usage::concurrent_budget_holds_never_pass_the_budget(store.clone())
                .await;
        }
    };
    (@cases $make:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $case() {
                let (_guard, store) = $make;
                $crate::contract::store::$case(store.as_ref()).await;
            }
        )*
    };
}

/// Expands to one `#[tokio::test]` per queue case. `$make` is an expression producing
/// `(guard, QueueFixture)`, like `item_store_contract!`.
#[macro_export]
macro_rules! queue_contract {
    ($make:expr) => {
        $crate::queue_contract!(@cases $make;
            a_sent_message_is_received_once_and_deleted,
            a_received_message_is_hidden_until_its_visibility_ends,
            changing_visibility_to_zero_releases_a_message_at_once,
            batches_and_bodies_respect_the_sqs_limits,
            a_delayed_message_waits_for_its_delay,
            a_long_poll_returns_as_soon_as_a_message_arrives,
            a_message_received_too_often_moves_to_the_dead_letter_queue,
            receive_never_returns_more_than_asked,
        );
    };
    (@cases $make:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $case() {
                let (_guard, fixture) = $make;
                $crate::contract::queue::$case(&fixture).await;
            }
        )*
    };
}
