//! The in-memory store runs the conformance suite against itself.

marketplace_core::conformance_suite!(marketplace_core::testkit::MemoryHarness);
