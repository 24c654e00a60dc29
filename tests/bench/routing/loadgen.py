#!/usr/bin/env python3
"""Load for the routing benchmark (tests/bench/routing/run.sh): clients that stream chat
completions through the proxyds and time the first token.

Each client is a thread with its own keep-alive connections, sending one request at a time with
an exponential think time between them (so every policy gets about the same offered load), its
requests entering at the hosts in turn. Workloads:
  shared     SYSTEM_PROMPTS long system prompts (SYSTEM_BYTES each) shared by every client, each
             request one of them plus a question of its own
  multiturn  conversations of TURNS turns: each turn resends the conversation (a short shared
             system prompt, then every question and answer so far) plus a new question; turns
             of one conversation enter at different hosts
  unique     prompts that share nothing (UNIQUE_BYTES of text that starts differently)
Measured: time to the first server-sent event (TTFT), which backend answered (its first token
names it), and, from the backends' /metrics, the prefix-cache hit rate over the run.
Prints one JSON object."""
import argparse, http.client, json, random, threading, time, urllib.request


def words(rng, size):
    out, length = [], 0
    while length < size:
        word = ''.join(rng.choice('abcdefghijklmnopqrstuvwxyz') for _ in range(rng.randint(2, 9)))
        out.append(word)
        length += len(word) + 1
    return ' '.join(out)[:size]


class Client(threading.Thread):
    def __init__(self, index, args, entries, deadline, shared):
        super().__init__(daemon=True)
        self.index, self.args, self.entries, self.deadline, self.shared = index, args, entries, deadline, shared
        self.rng = random.Random(args.seed * 1000 + index)
        self.connections = {}
        self.results = []        # (ttft_s, backend, ok)
        self.errors = {}         # why requests failed: count per reason
        self.turn = 0            # requests sent: picks the entry host
        self.conversation = []   # multiturn: messages so far
        self.conversation_turns = 0

    def connection(self, entry):
        if entry not in self.connections:
            host, port = entry.split(':')
            self.connections[entry] = http.client.HTTPConnection(host, int(port), timeout=60)
        return self.connections[entry]

    def messages(self):
        args, rng = self.args, self.rng
        question = {'role': 'user', 'content': 'client %d asks %d: %s' % (self.index, self.turn, words(rng, args.question_bytes))}
        if args.workload == 'shared':
            system = self.shared[rng.randrange(len(self.shared))]
            return [{'role': 'system', 'content': system}, question]
        if args.workload == 'unique':
            return [{'role': 'user', 'content': '%d-%d %s' % (self.index, self.turn, words(rng, args.unique_bytes))}]
        if self.conversation_turns == args.turns or not self.conversation:
            self.conversation = [{'role': 'system', 'content': self.shared[self.index % len(self.shared)]}]
            self.conversation_turns = 0
        self.conversation.append(question)
        return list(self.conversation)

    def answered(self, messages):
        if self.args.workload == 'multiturn':
            self.conversation.append({'role': 'assistant', 'content': words(self.rng, self.args.answer_bytes)})
            self.conversation_turns += 1

    def one(self):
        messages = self.messages()
        body = json.dumps({'model': 'bench', 'stream': True, 'max_tokens': self.args.tokens, 'messages': messages})
        entry = self.entries[(self.index + self.turn) % len(self.entries)]
        self.turn += 1
        start = time.monotonic()
        ttft, backend, ok = None, '', False
        try:
            conn = self.connection(entry)
            conn.request('POST', '/v1/chat/completions', body, {'Content-Type': 'application/json'})
            response = conn.getresponse()
            if response.status != 200:
                try:
                    code = json.loads(response.read())['error']['code']
                except (ValueError, KeyError, TypeError):
                    code = 'no error code'
                why = 'HTTP %d %s' % (response.status, code)
            else:
                while True:
                    line = response.readline()
                    if not line:
                        break
                    if line.startswith(b'data: '):
                        if ttft is None:
                            ttft = time.monotonic() - start
                        if not backend and b'"content":"' in line:
                            backend = line.split(b'"content":"', 1)[1].split(b':', 1)[0].decode()
                        if line.startswith(b'data: [DONE]'):
                            ok = True
                ok = ok and ttft is not None
                why = 'stream ended without [DONE]'
        except (OSError, http.client.HTTPException) as error:
            self.connections.pop(entry, None)
            why = '%s at %s' % (type(error).__name__, 'the request' if ttft is None else 'the stream')
        if not ok:
            self.errors[why] = self.errors.get(why, 0) + 1
        self.results.append((ttft, backend, ok))
        if ok:
            self.answered(messages)

    def run(self):
        while time.monotonic() < self.deadline:
            self.one()
            time.sleep(self.rng.expovariate(1000.0 / self.args.think_ms))


def prefix_counters(urls):
    hits = queries = 0.0
    for url in urls:
        text = urllib.request.urlopen(url + '/metrics', timeout=10).read().decode()
        for line in text.splitlines():
            if line.startswith('vllm:prefix_cache_hits_total'):
                hits += float(line.split()[-1])
            elif line.startswith('vllm:prefix_cache_queries_total'):
                queries += float(line.split()[-1])
    return hits, queries


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(p / 100.0 * len(values)))] if values else float('nan')


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--entries', required=True, help='host:port of each proxyd, comma-separated')
    parser.add_argument('--backends', required=True, help='http://host:port of each backend, comma-separated')
    parser.add_argument('--workload', choices=['shared', 'multiturn', 'unique'], required=True)
    parser.add_argument('--clients', type=int, default=12)
    parser.add_argument('--duration', type=float, default=20)
    parser.add_argument('--think-ms', type=float, default=100)
    parser.add_argument('--tokens', type=int, default=8)
    parser.add_argument('--seed', type=int, default=1)
    parser.add_argument('--system-prompts', type=int, default=12)
    parser.add_argument('--system-bytes', type=int, default=6000)
    parser.add_argument('--question-bytes', type=int, default=200)
    parser.add_argument('--answer-bytes', type=int, default=800)
    parser.add_argument('--turns', type=int, default=6)
    parser.add_argument('--unique-bytes', type=int, default=1500)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    if args.workload == 'multiturn':
        shared = ['You are assistant %d. %s' % (i, words(rng, 300)) for i in range(2)]
    else:
        shared = ['System prompt %d. %s' % (i, words(rng, args.system_bytes)) for i in range(args.system_prompts)]
    backends = args.backends.split(',')
    hits0, queries0 = prefix_counters(backends)
    deadline = time.monotonic() + args.duration
    started = time.monotonic()
    clients = [Client(i, args, args.entries.split(','), deadline, shared) for i in range(args.clients)]
    for client in clients:
        client.start()
    for client in clients:
        client.join()
    elapsed = time.monotonic() - started
    hits1, queries1 = prefix_counters(backends)
    results = [r for client in clients for r in client.results]
    done = [r for r in results if r[2]]
    ttfts = [r[0] * 1000 for r in done]
    per_backend = {}
    for r in done:
        per_backend[r[1]] = per_backend.get(r[1], 0) + 1
    counts = list(per_backend.values()) + [0] * max(0, len(backends) - len(per_backend))
    mean = sum(counts) / len(backends) if counts else 0
    print(json.dumps({
        'workload': args.workload, 'requests': len(results), 'completed': len(done),
        'failed': len(results) - len(done), 'rps': len(done) / elapsed,
        'errors': {why: sum(c.errors.get(why, 0) for c in clients) for why in set(w for c in clients for w in c.errors)},
        'ttft_p50_ms': percentile(ttfts, 50), 'ttft_p99_ms': percentile(ttfts, 99),
        'hit_rate': (hits1 - hits0) / (queries1 - queries0) if queries1 > queries0 else 0.0,
        'per_backend': per_backend, 'max_over_mean': (max(counts) / mean) if mean else float('nan'),
    }))


if __name__ == '__main__':
    main()
