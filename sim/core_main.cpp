// The `sim` backend's testbench: spherecode.hw.core.UpdaterCore (Verilog ports clk, rst, start, n, d,
// half_beta, step, i__payload/i__valid/i__ready, o__payload/o__valid/o__ready, done, error, cycles,
// move_norm, delta_min) run by Verilator from this loop, no cocotb and no VPI: each clock cycle is two
// eval() calls and nothing else, so the simulation runs as fast as the model evaluates.
//
// Requests and answers are lines on two named pipes, SPHERECODE_TB_REQ (read) and SPHERECODE_TB_RESP
// (written), opened in that order. A request is `N D HALF_BETA STEP C0 C1 … C(N·D−1)`: N and D in
// decimal, the rest in hexadecimal, each already masked to its port's width by the host. The answer is
// `ok CYCLES MOVE_NORM DELTA_MIN C0 … C(N·D−1)` (CYCLES decimal, the rest hexadecimal, unsigned) or
// `refused` when the core sets `error`. The line `quit`, or the end of the request pipe, ends the run
// (status 0); a malformed request ends it with status 2 and a line on stderr.
//
// A core with on-chip loosening (built with -DSPHERECODE_LOOSENING: ports loosen, iterations, loosen_n,
// loosen_l, progress, state_n, state_l) also takes `loosen N D K N0 L0 C0 … C(N·D−1)`: a whole run of K
// loosening iterations from the control state n = N0 (decimal), l = L0 (hexadecimal, raw UQ18.48),
// answered `ok CYCLES MOVE_NORM DELTA_MIN PROGRESS STATE_N STATE_L C0 …` (PROGRESS and STATE_N decimal,
// STATE_L hexadecimal); its plain requests run with loosen = 0.
//
// One iteration (or run), clock by clock: `start` high for one cycle, one idle cycle (then `error` is read), the
// coordinates offered one per cycle (a coordinate moves on a rising edge where `i__valid` and `i__ready`
// are both high, `i__ready` read before the edge), cycles until `done`, then `o__ready` high and the
// coordinates taken on each rising edge where `o__valid` is high, then one idle cycle. (Verilator spells
// the port `i__payload` as `i___05Fpayload` in C++: a double underscore is escaped.)

#ifndef CORE_MAIN_PORTS_ONLY  // defined by the test of put() and hex() (tests/host/backends/test_sim.py)
#include "Vtop.h"
#endif
#include "verilated.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

[[noreturn]] static void fail(const std::string& what) {
    std::fprintf(stderr, "core testbench: %s\n", what.c_str());
    std::exit(2);
}

// A hexadecimal token into a port of any width Verilator gives it (CData … QData, or VlWide<N>).
template <class T>
static void put(T& port, const std::string& hex) {
    if (hex.empty() || hex.find_first_not_of("0123456789abcdefABCDEF") != std::string::npos)
        fail("not a hexadecimal number: " + hex);
    if constexpr (std::is_integral_v<T>) {
        if (hex.size() > 2 * sizeof(T)) fail("too wide for its port: " + hex);
        port = static_cast<T>(std::strtoull(hex.c_str(), nullptr, 16));
    } else {  // VlWide<N>: 32-bit words, least significant first
        constexpr size_t words = sizeof(T) / sizeof(port[0]);
        if (hex.size() > 8 * words) fail("too wide for its port: " + hex);
        for (size_t w = 0; w < words; ++w) {
            size_t end = hex.size() > 8 * w ? hex.size() - 8 * w : 0;
            size_t begin = end > 8 ? end - 8 : 0;
            port[w] = end ? static_cast<uint32_t>(std::strtoul(hex.substr(begin, end - begin).c_str(), nullptr, 16)) : 0;
        }
    }
}

// A port of any width as a hexadecimal token (no leading zeros).
template <class T>
static std::string hex(const T& port) {
    char buf[24];
    if constexpr (std::is_integral_v<T>) {
        std::snprintf(buf, sizeof buf, "%llx", static_cast<unsigned long long>(port));
        return buf;
    } else {
        constexpr size_t words = sizeof(T) / sizeof(port[0]);
        std::string out;
        for (size_t w = words; w-- > 0;) {
            if (out.empty()) {
                if (port[w] == 0 && w > 0) continue;
                std::snprintf(buf, sizeof buf, "%x", static_cast<unsigned>(port[w]));
            } else {
                std::snprintf(buf, sizeof buf, "%08x", static_cast<unsigned>(port[w]));
            }
            out += buf;
        }
        return out;
    }
}

#ifndef CORE_MAIN_PORTS_ONLY
int main(int argc, char** argv) {
    const char* req_path = std::getenv("SPHERECODE_TB_REQ");
    const char* resp_path = std::getenv("SPHERECODE_TB_RESP");
    if (!req_path || !resp_path) fail("SPHERECODE_TB_REQ and SPHERECODE_TB_RESP must name the pipes");

    auto ctx = std::make_unique<VerilatedContext>();
    ctx->threads(1);
    ctx->commandArgs(argc, argv);
    auto top = std::make_unique<Vtop>(ctx.get());
    auto tick = [&]() {
        top->clk = 1;
        top->eval();
        top->clk = 0;
        top->eval();
    };
    top->clk = 0;
    top->rst = 1;
    top->start = 0;
    top->i___05Fvalid = 0;
    top->o___05Fready = 0;
    top->eval();
    tick();
    tick();
    top->rst = 0;

    std::ifstream requests(req_path);  // waits for the host to open its end
    if (!requests) fail(std::string("cannot open ") + req_path);
    FILE* answers = std::fopen(resp_path, "w");
    if (!answers) fail(std::string("cannot open ") + resp_path);

    std::string line, token;
    std::vector<std::string> coords, out;
    while (std::getline(requests, line) && line != "quit") {
        std::istringstream in(line);
        unsigned long n = 0, d = 0;
        std::string hb, step;
        bool run = line.rfind("loosen ", 0) == 0;
#ifdef SPHERECODE_LOOSENING
        if (run) {
            std::string word, l0;
            unsigned long k = 0, n0 = 0;
            if (!(in >> word >> n >> d >> k >> n0 >> l0)) fail("malformed request: " + line.substr(0, 60));
            top->iterations = k;
            top->loosen_n = n0;
            put(top->loosen_l, l0);
            hb = step = "0";
        } else if (!(in >> n >> d >> hb >> step)) {
            fail("malformed request: " + line.substr(0, 60));
        }
        top->loosen = run;
#else
        if (run) fail("this core has no on-chip loosening: " + line.substr(0, 60));
        if (!(in >> n >> d >> hb >> step)) fail("malformed request: " + line.substr(0, 60));
#endif
        coords.clear();
        while (in >> token) coords.push_back(token);
        if (coords.size() != n * d) fail("a request needs N·D coordinates: " + line.substr(0, 60));
        top->n = n;  // masked to the port's width by the host
        top->d = d;
        put(top->half_beta, hb);
        put(top->step, step);
        top->start = 1;
        tick();
        top->start = 0;
        tick();
        if (top->error) {
            std::fputs("refused\n", answers);
            std::fflush(answers);
            continue;
        }
        for (size_t k = 0; k < coords.size();) {
            put(top->i___05Fpayload, coords[k]);
            top->i___05Fvalid = 1;
            top->eval();
            bool moved = top->i___05Fready;
            tick();
            k += moved;
        }
        top->i___05Fvalid = 0;
        while (!top->done) tick();  // free-running through the compute
        top->o___05Fready = 1;
        out.clear();
        while (out.size() < coords.size()) {
            top->eval();
            if (top->o___05Fvalid) out.push_back(hex(top->o___05Fpayload));
            tick();
        }
        top->o___05Fready = 0;
        tick();
        std::string answer = "ok " + std::to_string(top->cycles) + " " + hex(top->move_norm) + " " + hex(top->delta_min);
#ifdef SPHERECODE_LOOSENING
        if (run)
            answer += " " + std::to_string(top->progress) + " " + std::to_string(top->state_n) + " " + hex(top->state_l);
#endif
        for (const auto& c : out) answer += " " + c;
        answer += "\n";
        std::fputs(answer.c_str(), answers);
        std::fflush(answers);
    }
    top->final();
    return 0;
}
#endif
