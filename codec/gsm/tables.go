package gsm

// Constant tables of GSM 06.10 section 5 (table numbers as in the spec).
// Arrays indexed by LAR number hold LAR 1..8 at 0..7.

// Table 5.1: quantisation of the log-area ratios, LARc = Nint(A*LAR + B)
// limited to [MIC, MAC], and INVA = 1/A for decoding, scaled as the spec
// gives them (A times 1024, B times 512, INVA times 2^18).
var (
	larA    = [8]int16{20480, 20480, 20480, 20480, 13964, 15360, 8534, 9036}
	larB    = [8]int16{0, 0, 2048, -2560, 94, -1792, -341, -1144}
	larMIC  = [8]int16{-32, -32, -16, -16, -8, -8, -4, -4}
	larMAC  = [8]int16{31, 31, 15, 15, 7, 7, 3, 3}
	larINVA = [8]int16{13107, 13107, 13107, 13107, 19223, 17476, 31454, 29708}
)

// Table 5.2: the decision levels (DLB) and quantised values (QLB) of the
// long-term predictor gain, in Q15.
var (
	gainDLB = [4]int16{6554, 16384, 26214, 32767}
	gainQLB = [4]int16{3277, 11469, 21299, 32767}
)

// Table 5.3: the impulse response of the RPE weighting filter, in Q13.
var weightingH = [11]int16{-134, -374, 0, 2054, 5741, 8192, 5741, 2054, 0, -374, -134}

// Table 5.4: the normalised inverse mantissa (NRFAC) used to quantise the RPE
// pulses and the normalised mantissa (FAC) used to reconstruct them, in Q15.
var (
	mantNRFAC = [8]int16{29128, 26215, 23832, 21846, 20165, 18725, 17476, 16384}
	mantFAC   = [8]int16{18431, 20479, 22527, 24575, 26623, 28671, 30719, 32767}
)
