package lazy

import (
	"context"
	"errors"
	"testing"
)

func TestRetriesFailureCachesSuccess(t *testing.T) {
	calls := 0
	v := New(func(context.Context) (int, error) {
		calls++
		if calls == 1 {
			return 0, errors.New("transient")
		}
		return 42, nil
	})
	if _, err := v.Get(context.Background()); err == nil {
		t.Fatal("first build should fail")
	}
	for range 3 {
		got, err := v.Get(context.Background())
		if err != nil || got != 42 {
			t.Fatalf("Get = %d, %v", got, err)
		}
	}
	if calls != 2 {
		t.Fatalf("built %d times, want 2", calls)
	}
	v.Set(7)
	if got, _ := v.Get(context.Background()); got != 7 {
		t.Fatalf("Set ignored: %d", got)
	}
}
