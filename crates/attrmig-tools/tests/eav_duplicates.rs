//! EAV entities with two rows of the attribute, arriving after step 1 checked there were
//! none (a table without a unique key on the entity and the name, an application bug):
//! the sync can't tell which row holds the value, so the key is a data issue, named, and
//! every other key is copied. Before, PostgreSQL failed the whole pass without naming the
//! key ("ON CONFLICT DO UPDATE command cannot affect row a second time"), and the good
//! rows of that batch were never copied.

mod common;

use attrmig_store::data_issues;
use attrmig_testing::backend_tests;
use common::*;

backend_tests! {
    fn a_second_row_of_the_attribute_is_its_keys_data_issue(db: &TestDb) {
        db.execute(&format!(
            "CREATE TABLE user_attributes (user_id BIGINT NOT NULL, name VARCHAR(64) NOT NULL, value VARCHAR(255));\n{}\n{}",
            insert(
                "user_attributes",
                "user_id, name, value",
                (1..=20)
                    .map(|i| format!("({i}, 'full_name', 'name {i}')"))
                    .chain(["(7, 'full_name', 'name 7, again')".to_owned()])
            ),
            new_table(db, "")
        ));
        let plan = plan(EAV_PLAN);
        let (mut conn, layout) = open(db, &plan);
        let summary = sync_pass_in(&mut conn, &layout, 5).expect("the pass goes on");
        assert_eq!(summary.rejected, 1, "{summary:?}");
        let issues = data_issues::list(&mut conn, "users-full-name", false).unwrap();
        let keys: Vec<&str> = issues.iter().map(|i| i.key.as_str()).collect();
        assert_eq!(keys, ["7"]);
        assert_eq!(
            count(&mut conn, "SELECT COUNT(*) AS n FROM users_pii WHERE user_id <> 7"),
            19,
            "every other key is copied, the rest of key 7's batch too"
        );
        assert!(issues[0].error.contains("more than one `full_name` row"), "{}", issues[0].error);

        // The advice: delete the extra row, then retry.
        assert!(issues[0].error.contains("attrmig data-issues users-full-name --retry"), "{}", issues[0].error);
        db.execute("DELETE FROM user_attributes WHERE user_id = 7 AND value = 'name 7, again'");
        let retried = retry(&mut conn, &layout);
        assert_eq!((retried.fixed, retried.still.len()), (vec!["7".to_owned()], 0));
        assert_eq!(
            count(&mut conn, "SELECT COUNT(*) AS n FROM users_pii WHERE user_id = 7 AND full_name = 'name 7'"),
            1
        );
    }
}
