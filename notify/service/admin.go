package service

import (
	"context"
	"errors"
	"regexp"
	"strings"

	"connectrpc.com/connect"
	"github.com/redis/go-redis/v9"
	"google.golang.org/protobuf/types/known/timestamppb"

	notifyv1 "hqconnect/gen/hqconnect/notify/v1"
	"hqconnect/internal/audit"
	"hqconnect/internal/auth"
	"hqconnect/internal/errs"
	"hqconnect/notify/pipeline"
)

// PipelineDeadLetters backs DeadLetters with the pipeline's dead-letter
// stream on rdb (cfg as the workers have it).
func PipelineDeadLetters(rdb redis.UniversalClient, cfg pipeline.Config) DeadLetters {
	return pipelineDead{rdb: rdb, cfg: cfg}
}

type pipelineDead struct {
	rdb redis.UniversalClient
	cfg pipeline.Config
}

func (p pipelineDead) List(ctx context.Context, after string, limit int) ([]pipeline.DeadLetter, string, error) {
	return pipeline.ListDead(ctx, p.rdb, p.cfg, after, limit)
}

func (p pipelineDead) Replay(ctx context.Context, id string) error {
	return pipeline.ReplayDead(ctx, p.rdb, p.cfg, id)
}

// streamID matches a Redis stream entry id, "<ms>-<seq>".
var streamID = regexp.MustCompile(`^[0-9]{1,20}-[0-9]{1,20}$`)

func validStreamID(s string) bool { return streamID.MatchString(s) }

var errNoDeadLetters = errs.New(errs.Unavailable,
	"dead letters cannot be read on this server: try again later",
	"máy chủ này không đọc được danh sách sự kiện lỗi: hãy thử lại sau")

var errDeadLetterNotFound = &errs.Error{Code: errs.NotFound, Field: "id",
	EN: "no dead letter has this id: it may have been replayed already; list them again",
	VI: "không có sự kiện lỗi nào với id này: có thể đã được gửi lại; hãy tải lại danh sách"}

func (s *Service) ListDeadLetters(ctx context.Context, req *connect.Request[notifyv1.ListDeadLettersRequest]) (*connect.Response[notifyv1.ListDeadLettersResponse], error) {
	if _, err := auth.Caller(ctx); err != nil {
		return nil, err
	}
	if s.dead == nil {
		return nil, errNoDeadLetters
	}
	size, err := pageSize(req.Msg.PageSize)
	if err != nil {
		return nil, err
	}
	after, err := decodeToken(req.Msg.PageToken, validStreamID)
	if err != nil {
		return nil, err
	}
	list, next, err := s.dead.List(ctx, after, size)
	if err != nil {
		return nil, err
	}
	res := &notifyv1.ListDeadLettersResponse{NextPageToken: encodeToken(next)}
	for _, d := range list {
		dl := &notifyv1.DeadLetter{
			Id:        d.ID,
			EventId:   d.Event.ID,
			EventKind: d.Event.Kind,
			Attempts:  int32(d.Attempts),
			LastError: d.LastError,
		}
		if !d.FailTime.IsZero() {
			dl.FailTime = timestamppb.New(d.FailTime)
		}
		res.DeadLetters = append(res.DeadLetters, dl)
	}
	return connect.NewResponse(res), nil
}

func (s *Service) ReplayDeadLetter(ctx context.Context, req *connect.Request[notifyv1.ReplayDeadLetterRequest]) (*connect.Response[notifyv1.ReplayDeadLetterResponse], error) {
	if _, err := auth.Caller(ctx); err != nil {
		return nil, err
	}
	if s.dead == nil {
		return nil, errNoDeadLetters
	}
	id := strings.TrimSpace(req.Msg.Id)
	switch {
	case id == "":
		return nil, required("id")
	case !validStreamID(id):
		return nil, errs.InvalidField("id",
			`is not a dead letter id (such as "1767225600000-0"): take it from ListDeadLetters`,
			`không phải là id của sự kiện lỗi (ví dụ "1767225600000-0"): hãy lấy từ ListDeadLetters`)
	}
	if err := s.dead.Replay(ctx, id); err != nil {
		if errors.Is(err, pipeline.ErrNotFound) {
			return nil, errDeadLetterNotFound
		}
		return nil, err
	}
	// The replay is in Redis; its audit row follows it.
	if err := audit.Record(ctx, s.db, "dead_letter.replay", "dead_letter", id, nil); err != nil {
		return nil, err
	}
	return connect.NewResponse(&notifyv1.ReplayDeadLetterResponse{}), nil
}
