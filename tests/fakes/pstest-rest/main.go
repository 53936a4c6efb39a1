// pstest-rest: Google's in-memory Pub/Sub server (cloud.google.com/go/pubsub/v2/pstest)
// behind the REST (v1, JSON) mapping of the RPCs colibri uses. Test-only.
//
// Every Pub/Sub behaviour (ack deadlines and their expiry, modifyAckDeadline, redelivery,
// deliveryAttempt, dead-letter policies, ordering keys, message ids) comes from pstest: this
// file only decodes a REST request into the request message with protojson, makes the gRPC
// call, and encodes the answer (or the gRPC status, in Google's REST error shape) back.
//
// REST → gRPC, after https://cloud.google.com/pubsub/docs/reference/rest:
//
//	PUT    /v1/projects/P/topics/T                          Publisher.CreateTopic      (body: Topic)
//	GET    /v1/projects/P/topics/T                          Publisher.GetTopic
//	DELETE /v1/projects/P/topics/T                          Publisher.DeleteTopic
//	POST   /v1/projects/P/topics/T:publish                  Publisher.Publish          (body: PublishRequest)
//	PUT    /v1/projects/P/subscriptions/S                   Subscriber.CreateSubscription (body: Subscription)
//	GET    /v1/projects/P/subscriptions/S                   Subscriber.GetSubscription
//	DELETE /v1/projects/P/subscriptions/S                   Subscriber.DeleteSubscription
//	POST   /v1/projects/P/subscriptions/S:pull              Subscriber.Pull
//	POST   /v1/projects/P/subscriptions/S:acknowledge       Subscriber.Acknowledge
//	POST   /v1/projects/P/subscriptions/S:modifyAckDeadline Subscriber.ModifyAckDeadline
//	POST   /v1/projects/P/subscriptions/S:modifyPushConfig  Subscriber.ModifyPushConfig
//
// Observation only (not Google's API, changes nothing):
//
//	GET /admin/messages[?topic=projects/P/topics/T]  pstest's own record of each message
//	    published: {"messages":[{"id","topic","orderingKey","publishTime","deliveries","acks",
//	    "modacks":[s…]}]}
//	--ack-hook URL: before an acknowledge or modifyAckDeadline is forwarded, POST
//	    {"rpc":"acknowledge"|"modifyAckDeadline","messageIds":[…],"ackDeadlineSeconds":n} (the
//	    ids from the ack ids, pstest's "<messageId>:<n>") to URL and wait for its answer, whatever
//	    it is: lets a test check that each acked message was already stored, or play a slow
//	    network (the call is made with the client's request context, so a client that gives up
//	    waiting cancels it, as it would cancel a call to Google).
//
// Run: pstest-rest [--port 0]; it prints {"port": N} on one line once it listens on 127.0.0.1.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"regexp"
	"strings"
	"time"

	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/pubsub/v2/pstest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

var resourceRE = regexp.MustCompile(`^/v1/(projects/[^/]+/(topics|subscriptions)/[^/:]+)(?::([A-Za-z]+))?$`)

// httpStatus is the HTTP mapping of each gRPC code (google/rpc/code.proto).
var httpStatus = map[codes.Code]int{
	codes.OK: 200, codes.Canceled: 499, codes.Unknown: 500, codes.InvalidArgument: 400,
	codes.DeadlineExceeded: 504, codes.NotFound: 404, codes.AlreadyExists: 409,
	codes.PermissionDenied: 403, codes.Unauthenticated: 401, codes.ResourceExhausted: 429,
	codes.FailedPrecondition: 400, codes.Aborted: 409, codes.OutOfRange: 400,
	codes.Unimplemented: 501, codes.Internal: 500, codes.Unavailable: 503, codes.DataLoss: 500,
}

// statusName is the google.rpc.Code enum name, which REST errors carry in "status".
var statusName = map[codes.Code]string{
	codes.OK: "OK", codes.Canceled: "CANCELLED", codes.Unknown: "UNKNOWN",
	codes.InvalidArgument: "INVALID_ARGUMENT", codes.DeadlineExceeded: "DEADLINE_EXCEEDED",
	codes.NotFound: "NOT_FOUND", codes.AlreadyExists: "ALREADY_EXISTS",
	codes.PermissionDenied: "PERMISSION_DENIED", codes.Unauthenticated: "UNAUTHENTICATED",
	codes.ResourceExhausted: "RESOURCE_EXHAUSTED", codes.FailedPrecondition: "FAILED_PRECONDITION",
	codes.Aborted: "ABORTED", codes.OutOfRange: "OUT_OF_RANGE", codes.Unimplemented: "UNIMPLEMENTED",
	codes.Internal: "INTERNAL", codes.Unavailable: "UNAVAILABLE", codes.DataLoss: "DATA_LOSS",
}

type shim struct {
	srv     *pstest.Server
	pub     pb.PublisherClient
	sub     pb.SubscriberClient
	ackHook string
	hook    *http.Client
}

func writeJSON(w http.ResponseWriter, code int, body []byte) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(code)
	w.Write(body)
}

// writeError answers with Google's REST error shape for err's gRPC status.
func writeError(w http.ResponseWriter, err error) {
	st := status.Convert(err)
	code, ok := httpStatus[st.Code()]
	if !ok {
		code = 500
	}
	b, _ := json.Marshal(map[string]any{"error": map[string]any{
		"code": code, "message": st.Message(), "status": statusName[st.Code()]}})
	writeJSON(w, code, b)
}

func writeProto(w http.ResponseWriter, m proto.Message, err error) {
	if err != nil {
		writeError(w, err)
		return
	}
	b, err := protojson.Marshal(m)
	if err != nil {
		writeError(w, status.Error(codes.Internal, err.Error()))
		return
	}
	writeJSON(w, 200, b)
}

// decode reads the body into m (an empty body is an empty message), as the REST front end
// does: unknown fields are an error.
func decode(r *http.Request, m proto.Message) error {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		return status.Error(codes.InvalidArgument, err.Error())
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	if err := protojson.Unmarshal(b, m); err != nil {
		return status.Errorf(codes.InvalidArgument, "Invalid JSON payload received. %v", err)
	}
	return nil
}

func (s *shim) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/admin/messages" && r.Method == http.MethodGet {
		s.messages(w, r)
		return
	}
	m := resourceRE.FindStringSubmatch(r.URL.Path)
	if m == nil {
		writeError(w, status.Errorf(codes.NotFound, "The requested URL %s was not found on this server.", r.URL.Path))
		return
	}
	name, kind, verb := m[1], m[2], m[3]
	ctx := r.Context()
	switch kind + " " + r.Method + " " + verb {
	case "topics PUT ":
		t := &pb.Topic{}
		if err := decode(r, t); err != nil {
			writeError(w, err)
			return
		}
		t.Name = name
		out, err := s.pub.CreateTopic(ctx, t)
		writeProto(w, out, err)
	case "topics GET ":
		out, err := s.pub.GetTopic(ctx, &pb.GetTopicRequest{Topic: name})
		writeProto(w, out, err)
	case "topics DELETE ":
		out, err := s.pub.DeleteTopic(ctx, &pb.DeleteTopicRequest{Topic: name})
		writeProto(w, out, err)
	case "topics POST publish":
		req := &pb.PublishRequest{}
		if err := decode(r, req); err != nil {
			writeError(w, err)
			return
		}
		req.Topic = name
		out, err := s.pub.Publish(ctx, req)
		writeProto(w, out, err)
	case "subscriptions PUT ":
		sub := &pb.Subscription{}
		if err := decode(r, sub); err != nil {
			writeError(w, err)
			return
		}
		sub.Name = name
		out, err := s.sub.CreateSubscription(ctx, sub)
		writeProto(w, out, err)
	case "subscriptions GET ":
		out, err := s.sub.GetSubscription(ctx, &pb.GetSubscriptionRequest{Subscription: name})
		writeProto(w, out, err)
	case "subscriptions DELETE ":
		out, err := s.sub.DeleteSubscription(ctx, &pb.DeleteSubscriptionRequest{Subscription: name})
		writeProto(w, out, err)
	case "subscriptions POST pull":
		req := &pb.PullRequest{}
		if err := decode(r, req); err != nil {
			writeError(w, err)
			return
		}
		req.Subscription = name
		out, err := s.sub.Pull(ctx, req)
		writeProto(w, out, err)
	case "subscriptions POST acknowledge":
		req := &pb.AcknowledgeRequest{}
		if err := decode(r, req); err != nil {
			writeError(w, err)
			return
		}
		req.Subscription = name
		s.callAckHook("acknowledge", req.AckIds, 0)
		out, err := s.sub.Acknowledge(ctx, req)
		writeProto(w, out, err)
	case "subscriptions POST modifyAckDeadline":
		req := &pb.ModifyAckDeadlineRequest{}
		if err := decode(r, req); err != nil {
			writeError(w, err)
			return
		}
		req.Subscription = name
		s.callAckHook("modifyAckDeadline", req.AckIds, req.AckDeadlineSeconds)
		out, err := s.sub.ModifyAckDeadline(ctx, req)
		writeProto(w, out, err)
	case "subscriptions POST modifyPushConfig":
		req := &pb.ModifyPushConfigRequest{}
		if err := decode(r, req); err != nil {
			writeError(w, err)
			return
		}
		req.Subscription = name
		out, err := s.sub.ModifyPushConfig(ctx, req)
		writeProto(w, out, err)
	default:
		writeError(w, status.Errorf(codes.NotFound, "The requested URL %s was not found on this server (%s).",
			r.URL.Path, r.Method))
	}
}

// callAckHook tells the test which messages are about to be acknowledged (or have their
// deadline changed); it changes nothing.
func (s *shim) callAckHook(rpc string, ackIDs []string, deadline int32) {
	if s.ackHook == "" || len(ackIDs) == 0 {
		return
	}
	ids := make([]string, 0, len(ackIDs))
	for _, a := range ackIDs {
		if i := strings.LastIndex(a, ":"); i > 0 {
			ids = append(ids, a[:i])
		}
	}
	b, _ := json.Marshal(map[string]any{"rpc": rpc, "messageIds": ids, "ackDeadlineSeconds": deadline})
	resp, err := s.hook.Post(s.ackHook, "application/json", bytes.NewReader(b))
	if err != nil {
		log.Printf("ack hook: %v", err)
		return
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
}

func (s *shim) messages(w http.ResponseWriter, r *http.Request) {
	topic := r.URL.Query().Get("topic")
	type rec struct {
		ID          string  `json:"id"`
		Topic       string  `json:"topic"`
		OrderingKey string  `json:"orderingKey,omitempty"`
		PublishTime string  `json:"publishTime"`
		Deliveries  int     `json:"deliveries"`
		Acks        int     `json:"acks"`
		Modacks     []int32 `json:"modacks"`
	}
	out := []rec{}
	for _, m := range s.srv.Messages() {
		if topic != "" && m.Topic != topic {
			continue
		}
		mods := make([]int32, 0, len(m.Modacks))
		for _, ma := range m.Modacks {
			mods = append(mods, ma.AckDeadline)
		}
		out = append(out, rec{m.ID, m.Topic, m.OrderingKey, m.PublishTime.UTC().Format(time.RFC3339Nano),
			m.Deliveries, m.Acks, mods})
	}
	b, _ := json.Marshal(map[string]any{"messages": out})
	writeJSON(w, 200, b)
}

func main() {
	port := flag.Int("port", 0, "REST port on 127.0.0.1 (0: any free port)")
	ackHook := flag.String("ack-hook", "", "URL told about every acknowledge before it is forwarded")
	flag.Parse()
	log.SetPrefix("pstest-rest: ")

	srv := pstest.NewServerWithAddress("127.0.0.1:0")
	conn, err := grpc.NewClient(srv.Addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(64<<20), grpc.MaxCallSendMsgSize(64<<20)))
	if err != nil {
		log.Fatalf("grpc client for %s: %v", srv.Addr, err)
	}
	s := &shim{srv: srv, pub: pb.NewPublisherClient(conn), sub: pb.NewSubscriberClient(conn),
		ackHook: *ackHook, hook: &http.Client{Timeout: 60 * time.Second}}

	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", *port))
	if err != nil {
		log.Fatalf("listen: %v", err)
	}
	fmt.Printf("{\"port\": %d, \"grpc\": %q}\n", ln.Addr().(*net.TCPAddr).Port, srv.Addr)
	os.Stdout.Sync()
	log.Fatal((&http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}).Serve(ln))
}
