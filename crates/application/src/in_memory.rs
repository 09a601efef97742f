//! In-memory fakes of the ports (filled in below).
