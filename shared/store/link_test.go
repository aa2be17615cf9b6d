package store_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/contactsync/contactsync/shared/store"
)

// TestUpdateLinkWritesEveryField: UpdateLink names its fields one by one;
// a field missing from its list would be stored by CreateLink and then
// never again. Every stored field is set, updated, read back, and cleared.
func TestUpdateLinkWritesEveryField(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	cid, _ := s.CreateConnection(ctx, &store.Connection{})
	l := &store.Link{ID: store.LinkIDForPipedrive("7"), PipedriveID: "7"}
	if err := s.CreateLink(ctx, cid, l); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	set := func(l *store.Link, zero bool) {
		v := reflect.ValueOf(l).Elem()
		for i := range v.NumField() {
			f, sf := v.Field(i), v.Type().Field(i)
			if !sf.IsExported() || sf.Tag.Get("firestore") == "-" || sf.Name == "UpdatedAt" {
				continue
			}
			if zero {
				f.Set(reflect.Zero(f.Type()))
				continue
			}
			switch f.Interface().(type) {
			case string:
				f.SetString("x-" + sf.Name)
			case int64:
				f.SetInt(3)
			case []byte:
				f.SetBytes([]byte(`{"given":"x"}`))
			case []string:
				f.Set(reflect.ValueOf([]string{"k-" + sf.Name}))
			case time.Time:
				f.Set(reflect.ValueOf(at.Add(time.Duration(i) * time.Second)))
			case []store.HistoryEntry:
				f.Set(reflect.ValueOf([]store.HistoryEntry{{At: at, Side: "google", Action: "update pipedrive", Detail: "d"}}))
			default:
				t.Fatalf("field %s of type %s: teach this test its sample value", sf.Name, f.Type())
			}
		}
	}
	for _, zero := range []bool{false, true} {
		want := *l
		set(&want, zero)
		want.ID = l.ID
		*l = want
		if err := s.UpdateLink(ctx, cid, l); err != nil {
			t.Fatal(err)
		}
		got, err := s.GetLink(ctx, cid, l.ID)
		if err != nil {
			t.Fatal(err)
		}
		gv, wv := reflect.ValueOf(*got), reflect.ValueOf(want)
		for i := range gv.NumField() {
			sf := gv.Type().Field(i)
			if !sf.IsExported() || sf.Tag.Get("firestore") == "-" || sf.Name == "UpdatedAt" {
				continue
			}
			g, w := gv.Field(i), wv.Field(i)
			if empty(g) && empty(w) {
				continue
			}
			if !reflect.DeepEqual(g.Interface(), w.Interface()) {
				t.Errorf("zero=%v: %s stored as %v, want %v", zero, sf.Name, g.Interface(), w.Interface())
			}
		}
		l = got
	}
}

// The links with a lost create looked for since a time are found; those
// looked for before it, or never, are not.
func TestLinksWithLostCreate(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	cid, _ := s.CreateConnection(ctx, &store.Connection{})
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	for i, looked := range []time.Time{{}, at.Add(-time.Hour), at, at.Add(time.Minute)} {
		l := &store.Link{ID: store.LinkIDForPipedrive(string(rune('1' + i))), PipedriveID: string(rune('1' + i)),
			LostCreateAt: looked.Add(-time.Second), LostCreateLookedAt: looked}
		if looked.IsZero() {
			l.LostCreateAt = time.Time{}
		}
		if err := s.CreateLink(ctx, cid, l); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.LinksWithLostCreate(ctx, cid, at)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, l := range got {
		ids = append(ids, l.PipedriveID)
	}
	if !reflect.DeepEqual(ids, []string{"3", "4"}) {
		t.Errorf("links found %v, want 3 and 4", ids)
	}
}

// empty: the zero value, or an empty list (Firestore does not tell a nil
// list from an empty one).
func empty(v reflect.Value) bool {
	if v.Kind() == reflect.Slice {
		return v.Len() == 0
	}
	return v.IsZero()
}
