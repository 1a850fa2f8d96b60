// The board twin: a board's top level (Verilog ports clk, rst, rx, tx, busy) run by Verilator behind a
// pseudo-terminal. A host opens the printed slave path as it would a real board's serial port.
//
// Compile with -DTWIN_DIVISOR=<clock cycles per UART bit> (8N1, LSB first, idle high). Prints one line,
// `pty: <slave path>`, on stdout; everything after it goes to stderr.
// Signals: SIGUSR1 resets the design (rst high for 16 cycles); SIGTERM, SIGINT and SIGHUP end the run
// with status 0. `--stats` (or SPHERECODE_TWIN_STATS=1) prints `cycles: N` on stderr at exit.
// SPHERECODE_TWIN_PARENT=<pid>: the run also ends (status 0) once that process is no longer our parent, so
// that a killed host never leaves the twin running and holding its pty. (Not prctl(PR_SET_PDEATHSIG): that
// fires when the forking *thread* exits, which would stop a twin started from a short-lived thread.)

#include "Vtop.h"
#include "verilated.h"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <memory>
#include <string>

#include <fcntl.h>
#include <poll.h>
#include <termios.h>
#include <unistd.h>

#ifndef TWIN_DIVISOR
#error "compile with -DTWIN_DIVISOR=<cycles per bit>"
#endif

static constexpr unsigned DIV = TWIN_DIVISOR;
static_assert(DIV >= 4, "the UART needs at least 4 cycles per bit");
static constexpr unsigned CHECK = 256;         // cycles between looks at the pty and the signal flags
static constexpr unsigned IDLE_TX = 20 * DIV;  // tx high this long (with nothing else going on) = idle
// pty reads and writes cost microseconds each: move bytes in batches while a line is busy.
static constexpr size_t RX_LOW = 64;           // read from the pty when fewer bytes than this are queued
static constexpr size_t RX_MAX = 4096;         // host->board bytes held here; the pty holds the rest
static constexpr size_t TX_BATCH = 256;        // write to the pty when this many bytes are ready ...
static constexpr unsigned TX_GAP = 11 * DIV;   // ... or when tx has been idle longer than a frame
static constexpr size_t TX_MAX = 1 << 20;      // board->host bytes held when the host does not read

static volatile sig_atomic_t stop_requested = 0, reset_requested = 0;
static void on_stop(int) { stop_requested = 1; }
static void on_reset(int) { reset_requested = 1; }

static void die(const char* what) {
    std::perror(what);
    std::exit(1);
}

int main(int argc, char** argv) {
    bool stats = false;
    for (int i = 1; i < argc; ++i) stats |= std::strcmp(argv[i], "--stats") == 0;
    if (const char* env = std::getenv("SPHERECODE_TWIN_STATS")) stats |= env[0] == '1';

    // The pty. We keep our own slave fd for our whole life: without it, a host closing the port would
    // make the master report POLLHUP (poll() would return at once, forever) and the line settings would
    // be lost between the host's connections. Raw mode: no echo, no line editing, no CR/NL translation.
    int master = posix_openpt(O_RDWR | O_NOCTTY);
    if (master < 0 || grantpt(master) != 0 || unlockpt(master) != 0) die("pty");
    const char* path = ptsname(master);
    if (!path) die("ptsname");
    int slave = open(path, O_RDWR | O_NOCTTY);
    if (slave < 0) die("pty slave");
    termios raw{};
    if (tcgetattr(slave, &raw) != 0) die("tcgetattr");
    cfmakeraw(&raw);
    if (tcsetattr(slave, TCSANOW, &raw) != 0) die("tcsetattr");
    if (fcntl(master, F_SETFL, fcntl(master, F_GETFL) | O_NONBLOCK) != 0) die("fcntl");

    // No SA_RESTART: a signal must interrupt the idle poll() at once.
    struct sigaction sa{};
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_stop;
    sigaction(SIGTERM, &sa, nullptr);
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGHUP, &sa, nullptr);
    sa.sa_handler = on_reset;
    sigaction(SIGUSR1, &sa, nullptr);
    signal(SIGPIPE, SIG_IGN);

    std::printf("pty: %s\n", path);
    std::fflush(stdout);
    // Anything else (the design's $display, Verilator's messages) goes to stderr: the host reads stdout only
    // up to this line, and a full pipe would stall the simulation.
    dup2(2, 1);

    pid_t parent = 0;
    if (const char* env = std::getenv("SPHERECODE_TWIN_PARENT")) parent = pid_t(std::atol(env));
    // Reparented (to init or a subreaper) once the parent is gone; one getppid() per CHECK cycles is cheap.
    auto orphaned = [&]() { return parent > 0 && getppid() != parent; };

    auto ctx = std::make_unique<VerilatedContext>();
    // The model is single-threaded; the context would otherwise start an idle worker per core, and a
    // signal could land on one of those instead of interrupting the main thread's poll().
    ctx->threads(1);
    ctx->commandArgs(argc, argv);
    auto top = std::make_unique<Vtop>(ctx.get());

    std::deque<uint8_t> to_board;   // host->board, waiting for the rx line
    std::string to_host;            // board->host, waiting for room in the pty
    uint8_t buf[4096];

    // rx line driver: the frame being sent (start 0, 8 data bits LSB first, stop 1) and its position.
    int rx_bit = -1;  // bit of the frame on the line, -1 when idle
    unsigned rx_count = 0;
    unsigned rx_frame = 0;
    // tx line receiver: bit being sampled (0 start, 1..8 data, 9 stop; -1 idle), cycles to its middle.
    int tx_bit = -1;
    unsigned tx_wait = 0;
    unsigned tx_byte = 0;
    uint8_t tx_prev = 1;
    uint64_t tx_high = 0;  // cycles tx has been high

    unsigned reset_left = 4;  // rst held high for the first few cycles
    unsigned quiet = 2 * DIV;  // then rx idle a while, so that the design sees the first start bit's edge
    uint64_t cycles = 0;
    unsigned until_check = 0;

    top->clk = 0;
    top->rst = 1;
    top->rx = 1;
    top->eval();

    auto pull = [&]() {  // host->board: take what the pty has, while our queue is short
        while (to_board.size() < RX_MAX) {
            ssize_t n = read(master, buf, std::min(sizeof buf, RX_MAX - to_board.size()));
            if (n <= 0) break;
            to_board.insert(to_board.end(), buf, buf + n);
        }
    };
    auto push = [&]() {  // board->host: write what the pty will take; keep the rest for later
        while (!to_host.empty()) {
            ssize_t n = write(master, to_host.data(), to_host.size());
            if (n <= 0) break;
            to_host.erase(0, n);
        }
    };

    while (!stop_requested && !ctx->gotFinish()) {
        if (until_check == 0) {
            until_check = CHECK;
            if (orphaned()) break;
            // Read before looking at the reset flag: a byte read here may have been sent after a reset().
            if (to_board.size() < RX_LOW) pull();
            if (reset_requested) {
                // Like a real reset: the frame on the rx line is cut (its byte lost), queued bytes stay.
                reset_requested = 0;
                reset_left = 16;
                quiet = 2 * DIV;
                rx_bit = -1;
                tx_bit = -1;
            }
            if (to_host.size() >= TX_BATCH || (!to_host.empty() && tx_high >= TX_GAP)) push();
            bool idle = reset_left == 0 && quiet == 0 && !top->busy && to_board.empty() && rx_bit < 0 &&
                        tx_bit < 0 && tx_high >= IDLE_TX;
            if (idle) {
                // Nothing can change until the host writes or a signal comes: sleep instead of spinning.
                // The timeout covers a signal that lands between the flag checks and poll().
                pollfd p{master, POLLIN, 0};
                while (!stop_requested && !reset_requested && to_board.empty() && !orphaned()) {
                    if (poll(&p, 1, 5) > 0) {
                        if (p.revents & POLLIN) pull();
                        else usleep(5000);  // POLLHUP or POLLERR (not expected): still do not spin
                    }
                    push();
                }
                until_check = 0;  // act on what woke us before running a cycle
                continue;
            }
        }
        --until_check;

        top->rst = reset_left > 0;
        if (reset_left) --reset_left;
        else if (quiet) --quiet;
        // The rx line for this cycle, then one clock period.
        if (rx_bit < 0 && !to_board.empty() && !top->rst && !quiet) {
            rx_frame = (1u << 9) | (unsigned(to_board.front()) << 1);
            to_board.pop_front();
            rx_bit = 0;
            rx_count = 0;
        }
        top->rx = rx_bit < 0 ? 1 : (rx_frame >> rx_bit) & 1;
        top->clk = 1;
        top->eval();
        ctx->timeInc(1);
        top->clk = 0;
        top->eval();
        ctx->timeInc(1);
        ++cycles;
        if (rx_bit >= 0 && ++rx_count == DIV) {
            rx_count = 0;
            if (++rx_bit == 10) rx_bit = -1;  // back to back: the next frame may start next cycle
        }

        // The tx line, as registered at this edge.
        uint8_t tx = top->tx & 1;
        tx_high = tx ? tx_high + 1 : 0;
        if (top->rst) {
            tx_bit = -1;
        } else if (tx_bit < 0) {
            if (tx_prev && !tx) {  // falling edge: a start bit; its middle is DIV/2 cycles on
                tx_bit = 0;
                tx_wait = DIV / 2;
                tx_byte = 0;
            }
        } else if (--tx_wait == 0) {
            tx_wait = DIV;
            if (tx_bit == 0) {
                if (tx) tx_bit = -1;  // a glitch, not a start bit
                else tx_bit = 1;
            } else if (tx_bit <= 8) {
                tx_byte |= unsigned(tx) << (tx_bit - 1);
                ++tx_bit;
            } else {  // stop bit: a 0 there is a framing error, and the byte is dropped
                if (tx && to_host.size() < TX_MAX) to_host.push_back(char(tx_byte));
                tx_bit = -1;  // from its middle, so that the next start bit's edge is seen
            }
        }
        tx_prev = tx;
    }

    push();  // best effort: what the board sent before the stop
    top->final();
    if (stats) std::fprintf(stderr, "cycles: %llu\n", (unsigned long long)cycles);
    close(slave);
    close(master);
    return 0;
}
