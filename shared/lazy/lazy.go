// Package lazy builds a function's dependencies on first use. Cloud
// Functions runs every registered function's init() in every deployment, so
// clients must not be created there; and unlike sync.Once, a failed build is
// retried on the next request instead of breaking the instance for good.
package lazy

import (
	"context"
	"sync"
)

// Value is built by its function on the first successful Get.
type Value[T any] struct {
	mu    sync.Mutex
	build func(context.Context) (T, error)
	v     T
	ok    bool
}

// New returns a Value built by build.
func New[T any](build func(context.Context) (T, error)) *Value[T] {
	return &Value[T]{build: build}
}

// Get returns the value, building it if no build has succeeded yet.
func (l *Value[T]) Get(ctx context.Context) (T, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ok {
		return l.v, nil
	}
	v, err := l.build(ctx)
	if err != nil {
		var zero T
		return zero, err
	}
	l.v, l.ok = v, true
	return v, nil
}

// Set replaces the value (tests inject fakes with it).
func (l *Value[T]) Set(v T) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.v, l.ok = v, true
}
