// Simulation model of the Gowin GW5A MULTALU27X18 DSP block, for Verilator.
//
// Ports and parameters are those of yosys' Gowin cell library (share/gowin/cells_xtra_gw5a.v), where the
// block is a black box. The behaviour modelled is the multiplier path of the block as Gowin's DSP user
// guide describes it:
//
//   A (27 bits, signed) and B (18 bits, signed), each registered or not (AREG_CLK, BREG_CLK)
//   -> P = A * B (45 bits, sign-extended to 48), registered or not (PREG_CLK)
//   -> the ALU: P, plus C when C_SEL = 1
//   -> DOUT (48 bits), registered or not (OREG_CLK).
//
// Each register is BYPASS or clocked by CLK[0], loads when CE[0] is high and clears when RESET[0] is high
// (MULT_RESET_MODE "SYNC": at the clock edge). This is the configuration the core instantiates
// (spherecode.hw.multiplier); the pre-adder (D, PSEL, PADDSUB), the shift chain (SIA, SOA, ASEL), the
// cascade (CASI, CASO), the accumulator (ACCSEL, ACC_SEL), subtraction (ADDSUB), dynamic selection, the
// other clock, enable and reset lines and asynchronous reset are not modelled: a parameter asking for
// them stops the simulation at its start instead of giving a wrong result (CASO and SOA read 0).
`default_nettype none

module MULTALU27X18 (DOUT, CASO, SOA, A, SIA, B, C, D, CASI, ACCSEL, PSEL, ASEL, PADDSUB, CSEL, CASISEL, ADDSUB,
                     CLK, CE, RESET);
    parameter AREG_CLK = "BYPASS";
    parameter AREG_CE = "CE0";
    parameter AREG_RESET = "RESET0";
    parameter BREG_CLK = "BYPASS";
    parameter BREG_CE = "CE0";
    parameter BREG_RESET = "RESET0";
    parameter DREG_CLK = "BYPASS";
    parameter DREG_CE = "CE0";
    parameter DREG_RESET = "RESET0";
    parameter C_IREG_CLK = "BYPASS";
    parameter C_IREG_CE = "CE0";
    parameter C_IREG_RESET = "RESET0";
    parameter PSEL_IREG_CLK = "BYPASS";
    parameter PSEL_IREG_CE = "CE0";
    parameter PSEL_IREG_RESET = "RESET0";
    parameter PADDSUB_IREG_CLK = "BYPASS";
    parameter PADDSUB_IREG_CE = "CE0";
    parameter PADDSUB_IREG_RESET = "RESET0";
    parameter ADDSUB0_IREG_CLK = "BYPASS";
    parameter ADDSUB0_IREG_CE = "CE0";
    parameter ADDSUB0_IREG_RESET = "RESET0";
    parameter ADDSUB1_IREG_CLK = "BYPASS";
    parameter ADDSUB1_IREG_CE = "CE0";
    parameter ADDSUB1_IREG_RESET = "RESET0";
    parameter CSEL_IREG_CLK = "BYPASS";
    parameter CSEL_IREG_CE = "CE0";
    parameter CSEL_IREG_RESET = "RESET0";
    parameter CASISEL_IREG_CLK = "BYPASS";
    parameter CASISEL_IREG_CE = "CE0";
    parameter CASISEL_IREG_RESET = "RESET0";
    parameter ACCSEL_IREG_CLK = "BYPASS";
    parameter ACCSEL_IREG_CE = "CE0";
    parameter ACCSEL_IREG_RESET = "RESET0";
    parameter PREG_CLK = "BYPASS";
    parameter PREG_CE = "CE0";
    parameter PREG_RESET = "RESET0";
    parameter ADDSUB0_PREG_CLK = "BYPASS";
    parameter ADDSUB0_PREG_CE = "CE0";
    parameter ADDSUB0_PREG_RESET = "RESET0";
    parameter ADDSUB1_PREG_CLK = "BYPASS";
    parameter ADDSUB1_PREG_CE = "CE0";
    parameter ADDSUB1_PREG_RESET = "RESET0";
    parameter CSEL_PREG_CLK = "BYPASS";
    parameter CSEL_PREG_CE = "CE0";
    parameter CSEL_PREG_RESET = "RESET0";
    parameter CASISEL_PREG_CLK = "BYPASS";
    parameter CASISEL_PREG_CE = "CE0";
    parameter CASISEL_PREG_RESET = "RESET0";
    parameter ACCSEL_PREG_CLK = "BYPASS";
    parameter ACCSEL_PREG_CE = "CE0";
    parameter ACCSEL_PREG_RESET = "RESET0";
    parameter C_PREG_CLK = "BYPASS";
    parameter C_PREG_CE = "CE0";
    parameter C_PREG_RESET = "RESET0";
    parameter FB_PREG_EN = "FALSE";
    parameter SOA_PREG_EN = "FALSE";
    parameter OREG_CLK = "BYPASS";
    parameter OREG_CE = "CE0";
    parameter OREG_RESET = "RESET0";
    parameter MULT_RESET_MODE = "SYNC";
    parameter PRE_LOAD = 48'h000000000000;
    parameter DYN_P_SEL = "FALSE";
    parameter P_SEL = 1'b0;
    parameter DYN_P_ADDSUB = "FALSE";
    parameter P_ADDSUB = 1'b0;
    parameter DYN_A_SEL = "FALSE";
    parameter A_SEL = 1'b0;
    parameter DYN_ADD_SUB_0 = "FALSE";
    parameter ADD_SUB_0 = 1'b0;
    parameter DYN_ADD_SUB_1 = "FALSE";
    parameter ADD_SUB_1 = 1'b0;
    parameter DYN_C_SEL = "FALSE";
    parameter C_SEL = 1'b1;
    parameter DYN_CASI_SEL = "FALSE";
    parameter CASI_SEL = 1'b0;
    parameter DYN_ACC_SEL = "FALSE";
    parameter ACC_SEL = 1'b0;
    parameter MULT12X12_EN = "FALSE";

    output wire [47:0] DOUT, CASO;
    output wire [26:0] SOA;
    input wire [26:0] A, SIA;
    input wire [17:0] B;
    input wire [47:0] C;
    input wire [25:0] D;
    input wire [47:0] CASI;
    input wire ACCSEL, PSEL, ASEL, PADDSUB, CSEL, CASISEL;
    input wire [1:0] ADDSUB;
    input wire [1:0] CLK, CE, RESET;

    // The registers this model has: BYPASS or CLK0, with CE0 and RESET0.
    function automatic ok_reg(input [8*6-1:0] clk, input [8*6-1:0] ce, input [8*6-1:0] reset);
        ok_reg = (clk == "BYPASS" || clk == "CLK0") && ce == "CE0" && reset == "RESET0";
    endfunction

    initial begin
        if (!ok_reg(AREG_CLK, AREG_CE, AREG_RESET) || !ok_reg(BREG_CLK, BREG_CE, BREG_RESET)
                || !ok_reg(PREG_CLK, PREG_CE, PREG_RESET) || !ok_reg(OREG_CLK, OREG_CE, OREG_RESET))
            $fatal(1, "MULTALU27X18 model: registers are BYPASS or CLK0 with CE0 and RESET0 only");
        if (MULT_RESET_MODE != "SYNC")
            $fatal(1, "MULTALU27X18 model: MULT_RESET_MODE \"SYNC\" only");
        if (C_IREG_CLK != "BYPASS" || C_PREG_CLK != "BYPASS" || DYN_C_SEL != "FALSE")
            $fatal(1, "MULTALU27X18 model: C unregistered and statically selected only");
        if (P_SEL != 1'b0 || DYN_P_SEL != "FALSE" || DYN_P_ADDSUB != "FALSE" || DREG_CLK != "BYPASS")
            $fatal(1, "MULTALU27X18 model: no pre-adder");
        if (A_SEL != 1'b0 || DYN_A_SEL != "FALSE" || SOA_PREG_EN != "FALSE")
            $fatal(1, "MULTALU27X18 model: no shift chain");
        if (CASI_SEL != 1'b0 || DYN_CASI_SEL != "FALSE" || ACC_SEL != 1'b0 || DYN_ACC_SEL != "FALSE"
                || FB_PREG_EN != "FALSE" || PRE_LOAD != 48'h0)
            $fatal(1, "MULTALU27X18 model: no cascade input and no accumulator");
        if (ADD_SUB_0 != 1'b0 || ADD_SUB_1 != 1'b0 || DYN_ADD_SUB_0 != "FALSE" || DYN_ADD_SUB_1 != "FALSE")
            $fatal(1, "MULTALU27X18 model: addition only");
        if (MULT12X12_EN != "FALSE")
            $fatal(1, "MULTALU27X18 model: the 27 x 18 mode only");
    end

    reg [26:0] a_q = 27'd0;
    reg [17:0] b_q = 18'd0;
    reg [47:0] p_q = 48'd0;
    reg [47:0] o_q = 48'd0;

    wire [26:0] a = AREG_CLK == "CLK0" ? a_q : A;
    wire [17:0] b = BREG_CLK == "CLK0" ? b_q : B;
    wire signed [47:0] product = $signed(a) * $signed(b);  // |A·B| < 2^44: exact in 48 bits
    wire [47:0] p = PREG_CLK == "CLK0" ? p_q : product;
    wire [47:0] sum = p + (C_SEL == 1'b1 ? C : 48'd0);

    always @(posedge CLK[0]) begin
        if (RESET[0]) begin
            a_q <= 27'd0;
            b_q <= 18'd0;
            p_q <= 48'd0;
            o_q <= 48'd0;
        end else if (CE[0]) begin
            a_q <= A;
            b_q <= B;
            p_q <= product;
            o_q <= sum;
        end
    end

    assign DOUT = OREG_CLK == "CLK0" ? o_q : sum;
    assign CASO = 48'd0;
    assign SOA = 27'd0;
endmodule

`default_nettype wire
