// Package converge holds the randomized convergence test of the whole
// sync (converge_test.go): random user actions on both sides while the
// real intake, poller, applier and first sync run on the emulators and the
// fakes, with injected faults, checked against a model after quiescence.
// It has no code of its own.
package converge
