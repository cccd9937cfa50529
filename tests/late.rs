//! Late writes after 9, through the real binary on every backend: drop-old's refusal
//! and its JSON name the keys, who wrote them and what to do; doing what it says (copy
//! the values into new storage, accept exactly those writes with a note) drops old
//! storage, and a later late write is not accepted by the earlier token.

use crate::support::*;
use crate::walk::walk_to_nine;

const ID: &str = "users-full-name";

backend_tests! {
    fn late_writes_are_named_and_the_advice_works(db: &TestDb) {
        let p = Project::new(db).with_users(2500).with_plan(ID, &USERS_PLAN.replace("approvals = 1", "approvals = 0"));
        walk_to_nine(&p);
        let status = p.attrmig(["--json", "log", ID]).run().ok().json();
        let nine = status["entries"].as_array().unwrap().iter().rev().find(|e| e["kind"] == "advance").unwrap().clone();
        assert_eq!(nine["evidence"]["old_fingerprint"]["keys"], 2500, "{nine:#}");
        assert_eq!(nine["evidence"]["old_fingerprint"]["ranges"], 3, "{nine:#}");
        // A state row per range, not per key.
        assert_eq!(p.count("SELECT COUNT(*) AS n FROM attrmig_old_ranges"), 3);
        assert_eq!(p.count("SELECT COUNT(*) AS n FROM attrmig_old_fingerprints"), 0);

        // A cron job nobody stopped, and the traffic that is no late write.
        p.sql("UPDATE users SET full_name = 'cron 7' WHERE id = 7;
               UPDATE users SET full_name = 'cron 1999' WHERE id = 1999;
               DELETE FROM users WHERE id = 8;
               INSERT INTO users (id, full_name) VALUES (3000, 'new row');");
        let refused = p.attrmig(["ddl", ID, "drop-old", "--apply"]).run().code(3);
        let text = refused.stderr.clone();
        assert!(text.contains("3 keys of old storage written since "), "{text}");
        assert!(text.contains("\"7\" (at ") && text.contains("\"1999\" (at ") && text.contains("\"3000\" (at "), "{text}");
        if db.backend() != attrmig_db::Backend::Sqlite {
            assert!(text.contains(", by "), "who wrote is named where the backend tells: {text}");
        }
        let json = p.attrmig(["--json", "ddl", ID, "drop-old", "--apply"]).run().code(3).json();
        let refusal = &json["error"]["refusal"];
        assert_eq!(refusal["code"], "late-writes", "{json:#}");
        assert_eq!(refusal["changed"], 3, "{json:#}");
        let keys: Vec<&str> = refusal["keys"].as_array().unwrap().iter().map(|k| k["key"].as_str().unwrap()).collect();
        assert_eq!(keys, ["7", "1999", "3000"], "{json:#}");
        let token = refusal["token"].as_str().unwrap().to_owned();
        assert!(text.contains(&format!("--accept-late-writes {token} --note")), "{text}");
        // The advance to 10 says the same.
        p.attrmig(["advance", ID]).run().code(3).stderr_has("3 keys of old storage written since");

        // The advice: copy what must survive into new storage...
        p.sql("UPDATE users_pii SET full_name = 'cron 7' WHERE user_id = 7;
               UPDATE users_pii SET full_name = 'cron 1999' WHERE user_id = 1999;
               INSERT INTO users_pii (user_id, full_name) VALUES (3000, 'new row');");
        // ...then accept exactly those writes, saying so.
        p.attrmig(["ddl", ID, "drop-old", "--apply", "--accept-late-writes", &token]).run().code(3)
            .stderr_has(&format!("--accept-late-writes {token} needs --note"));
        // Another late write meanwhile: the token no longer stands for what was found.
        p.sql("UPDATE users SET full_name = 'cron again' WHERE id = 2001");
        let again = p.attrmig(["--json", "ddl", ID, "drop-old", "--apply", "--accept-late-writes", &token, "--note", "copied"]).run().code(3).json();
        assert_eq!(again["error"]["refusal"]["changed"], 4, "{again:#}");
        let token = again["error"]["refusal"]["token"].as_str().unwrap().to_owned();
        p.sql("UPDATE users_pii SET full_name = 'cron again' WHERE user_id = 2001");
        p.attrmig(["ddl", ID, "drop-old", "--apply", "--accept-late-writes", &token, "--note", "cron job stopped; its 4 writes copied into users_pii (INC-7)"])
            .run()
            .ok()
            .stdout_has("DROP COLUMN")
            .stdout_has(&format!("-- 4 late write(s) accepted (token {token}), as the note says"));
        p.attrmig(["advance", ID]).run().ok().stdout_has("9 stop-writing-old → 10 drop-old");
        let log = p.intact_log(ID);
        let ddl = log["entries"].as_array().unwrap().iter().rev().find(|e| e["kind"] == "ddl").unwrap().clone();
        assert_eq!(ddl["evidence"]["late_writes"]["token"], token.as_str(), "{ddl:#}");
        assert_eq!(ddl["note"], "cron job stopped; its 4 writes copied into users_pii (INC-7)");
        // The trigger and its log went with old storage; the application goes on.
        p.sql("UPDATE users SET id = id WHERE id = 1");
        assert_eq!(p.count("SELECT COUNT(*) AS n FROM users_pii WHERE full_name = 'cron again'"), 1);
    }
}
