package wsactor_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/wsactor/wsactor"
	"github.com/wsactor/wsactor/internal/echoserver"
)

// A select loop: the connection's events arrive on one bounded channel.
func Example_selectLoop() {
	srv, _ := echoserver.Start(echoserver.Options{}) // any ws:// URL will do
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	c, err := wsactor.Dial(ctx, srv.URL(), wsactor.WithMaxMessageSize(1<<20))
	if err != nil {
		log.Fatal(err)
	}
	for ev := range c.Events() {
		switch e := ev.(type) {
		case *wsactor.Open:
			fmt.Println("open")
			_ = c.SendText(ctx, "hello")
		case *wsactor.Message:
			fmt.Println("message:", e.Text())
			_ = c.Close(wsactor.StatusNormalClosure, "done")
		case *wsactor.Close:
			fmt.Println("close:", e.Code, e.Reason, "clean:", e.Clean)
		}
	}
	// Output:
	// open
	// message: hello
	// close: 1000 done clean: true
}

// Callbacks: an adapter over the same channel, like R's onOpen/onMessage.
func Example_callbacks() {
	srv, _ := echoserver.Start(echoserver.Options{})
	defer srv.Close()

	c, err := wsactor.New(srv.URL())
	if err != nil {
		log.Fatal(err)
	}
	c.OnOpen(func(o *wsactor.Open) { _ = o.Conn().SendText(context.Background(), "hi") })
	c.OnMessage(func(m *wsactor.Message) {
		fmt.Println("got", m.Text())
		_ = m.Conn().Close(wsactor.StatusNormalClosure, "")
	})
	c.OnClose(func(e *wsactor.Close) { fmt.Println("closed", e.Code) })
	if err := c.Connect(context.Background()); err != nil {
		log.Fatal(err)
	}
	c.Wait() // returns after the handlers of the terminal event ran
	// Output:
	// got hi
	// closed 1000
}

// The load pattern: many connections, each its own select loop, bounded
// dial concurrency. cmd/wsload is the full tool.
func Example_load() {
	srv, _ := echoserver.Start(echoserver.Options{})
	defer srv.Close()
	ctx := context.Background()

	const conns = 20
	sem := make(chan struct{}, 8) // at most 8 handshakes at once
	results := make(chan int, conns)
	for range conns {
		sem <- struct{}{}
		c, err := wsactor.Dial(ctx, srv.URL())
		<-sem
		if err != nil {
			log.Fatal(err)
		}
		go func() {
			n := 0
			for ev := range c.Events() {
				switch ev.(type) {
				case *wsactor.Open:
					_ = c.SendBinary(ctx, []byte("ping"))
				case *wsactor.Message:
					if n++; n < 10 {
						_ = c.SendBinary(ctx, []byte("ping"))
					} else {
						_ = c.Close(wsactor.StatusNormalClosure, "")
					}
				}
			}
			results <- n
		}()
	}
	total := 0
	for range conns {
		total += <-results
	}
	fmt.Println("echoes:", total)
	// Output:
	// echoes: 200
}
