package logging

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// A fault such as an unreachable database fails every request and every
// background round while it lasts: logged each time, it would bury
// everything else (hundreds of lines a second under load). A record
// marked with Episode is written only when it starts an episode of its
// fault: the first one, or the first after EpisodeQuiet without one. The
// request log and the metrics still count every failure.

// EpisodeQuiet is how long a fault must stay silent for its episode to
// end: the next record of it starts a new one and is written.
const EpisodeQuiet = 10 * time.Second

const episodeKey = "episode"

// Episode marks a record as one of the named fault's: only the first of
// an episode is written.
func Episode(name string) slog.Attr { return slog.String(episodeKey, name) }

// episodes is the state of every fault's episode, shared by a logger and
// all the loggers derived from it.
type episodes struct {
	mu   sync.Mutex
	last map[string]time.Time // the fault's latest record, written or not
}

// starts reports whether a record of the fault at t starts an episode.
func (e *episodes) starts(name string, t time.Time) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	last, seen := e.last[name]
	e.last[name] = t
	return !seen || t.Sub(last) >= EpisodeQuiet
}

// episodeHandler drops the records of a fault's episode after its first.
type episodeHandler struct {
	slog.Handler
	state *episodes
}

func (h episodeHandler) Handle(ctx context.Context, r slog.Record) error {
	var name string
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == episodeKey {
			name = a.Value.String()
			return false
		}
		return true
	})
	if name != "" && !h.state.starts(name, r.Time) {
		return nil
	}
	return h.Handler.Handle(ctx, r)
}

func (h episodeHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return episodeHandler{h.Handler.WithAttrs(attrs), h.state}
}

func (h episodeHandler) WithGroup(name string) slog.Handler {
	return episodeHandler{h.Handler.WithGroup(name), h.state}
}
