//! Open connections: the application database and, when `state_url` is set, the state
//! database. The state schema is created or upgraded when a session opens.

use attrmig_db::{AnyConnection, DatabaseUrl, connect};
use attrmig_store::{Conns, setup};

use crate::error::EngineError;

/// The connections of one command.
pub struct Session {
    app_url: DatabaseUrl,
    app: AnyConnection,
    state: Option<AnyConnection>,
}

impl Session {
    /// Connects, and makes sure the state tables exist at this binary's version.
    pub fn open(
        app_url: &DatabaseUrl,
        state_url: Option<&DatabaseUrl>,
    ) -> Result<Session, EngineError> {
        let mut app = connect(app_url)?;
        let mut state = state_url.map(connect).transpose()?;
        setup::ensure_schema(state.as_mut().unwrap_or(&mut app))?;
        Ok(Session {
            app_url: app_url.clone(),
            app,
            state,
        })
    }

    /// Where the application database is: the tools open a second connection to it to
    /// find their batches' ends while a batch runs.
    pub fn app_url(&self) -> &DatabaseUrl {
        &self.app_url
    }

    /// The application database.
    pub fn app(&mut self) -> &mut AnyConnection {
        &mut self.app
    }

    /// The state database.
    pub fn state(&mut self) -> &mut AnyConnection {
        self.state.as_mut().unwrap_or(&mut self.app)
    }

    /// Both, as the tools take them.
    pub fn conns(&mut self) -> Conns<'_> {
        match &mut self.state {
            None => Conns::Shared(&mut self.app),
            Some(state) => Conns::Split {
                app: &mut self.app,
                state,
            },
        }
    }
}
