"""Held frames for free: append all-skip P frames to an x264 segment instead of encoding them.

After a personal scene's last animation the picture does not change, yet x264
spends ≈ 3 ms analysing every held 720p frame. An H.264 P slice whose every
macroblock is P_Skip copies the previous picture exactly, and its bits depend
only on the frame size and the slice QP; so the renderer encodes the animated
frames plus a few held ones with x264, then appends the remaining held frames
as such slices, each a reference picture (frame_num + 1, POC + 2) so the chain
stays valid for any length. The stream keeps its SPS/PPS, frame count and
timestamps: players see exactly the frames x264 would have produced.

The CABAC tables are the constant tables of ITU-T H.264 §9.3 (in x264's index
convention: state = pStateIdx' << 1 | valMPS with pStateIdx' = 63 - pStateIdx).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import av

# Table 9-44 rangeTabLPS, rows reversed (x264 convention).
RANGE_LPS = (
    (2, 2, 2, 2), (6, 7, 8, 9), (6, 7, 9, 10), (6, 8, 9, 11), (7, 8, 10, 11), (7, 9, 10, 12), (7, 9, 11, 12), (8, 9, 11, 13),
    (8, 10, 12, 14), (9, 11, 12, 14), (9, 11, 13, 15), (10, 12, 14, 16), (10, 12, 15, 17), (11, 13, 15, 18), (11, 14, 16, 19), (12, 14, 17, 20),
    (12, 15, 18, 21), (13, 16, 19, 22), (14, 17, 20, 23), (14, 18, 21, 24), (15, 19, 22, 25), (16, 20, 23, 27), (17, 21, 25, 28), (18, 22, 26, 30),
    (19, 23, 27, 31), (20, 24, 29, 33), (21, 26, 30, 35), (22, 27, 32, 37), (23, 28, 33, 39), (24, 30, 35, 41), (26, 31, 37, 43), (27, 33, 39, 45),
    (29, 35, 41, 48), (30, 37, 43, 50), (32, 39, 46, 53), (33, 41, 48, 56), (35, 43, 51, 59), (37, 45, 54, 62), (39, 48, 56, 65), (41, 50, 59, 69),
    (43, 53, 63, 72), (46, 56, 66, 76), (48, 59, 69, 80), (51, 62, 73, 85), (53, 65, 77, 89), (56, 69, 81, 94), (59, 72, 86, 99), (62, 76, 90, 104),
    (66, 80, 95, 110), (69, 85, 100, 116), (73, 89, 105, 122), (77, 94, 111, 128), (81, 99, 117, 135), (85, 104, 123, 142), (90, 110, 130, 150), (95, 116, 137, 158),
    (100, 122, 144, 166), (105, 128, 152, 175), (111, 135, 160, 185), (116, 142, 169, 195), (123, 150, 178, 205), (128, 158, 187, 216), (128, 167, 197, 227), (128, 176, 208, 240),
)
# mb_skip_flag for P slices uses ctxIdx 11..13; with every neighbour skipped only 11 is used.
SKIP_CTX_MN = {0: (23, 33), 1: (22, 25), 2: (29, 16)}  # (m, n) per cabac_init_idc, Table 9-13


# Table 9-45 transIdxLPS, indexed by the spec's pStateIdx.
_TRANS_LPS = (0, 0, 1, 2, 2, 4, 4, 5, 6, 7, 8, 9, 9, 11, 11, 12, 13, 13, 15, 15, 16, 16, 18, 18, 19, 19, 21, 21, 22, 22, 23, 24,
              24, 25, 26, 26, 27, 27, 28, 29, 29, 30, 30, 30, 31, 32, 32, 33, 33, 33, 34, 34, 35, 35, 35, 36, 36, 36, 37, 37, 37, 38, 38, 63)


def _next_state(state: int, bit: int) -> int:
    """State transition after coding ``bit`` (Table 9-45), in x264's packed convention."""
    spec, mps = 63 - (state >> 1), state & 1
    if bit == mps:
        new_spec, new_mps = (spec if spec >= 62 else spec + 1), mps
    else:
        new_spec, new_mps = _TRANS_LPS[spec], (1 - mps if spec == 0 else mps)
    return ((63 - new_spec) << 1) | new_mps


class _Bits:
    def __init__(self) -> None:
        self.bits: list[int] = []

    def u(self, n: int, v: int) -> None:
        self.bits.extend((v >> (n - 1 - i)) & 1 for i in range(n))

    def ue(self, v: int) -> None:
        x = v + 1
        n = x.bit_length()
        self.u(n - 1, 0)
        self.u(n, x)

    def se(self, v: int) -> None:
        self.ue(2 * v - 1 if v > 0 else -2 * v)

    def align_ones(self) -> None:
        while len(self.bits) % 8:
            self.bits.append(1)

    def to_bytes(self) -> bytes:
        bits = self.bits + [0] * (-len(self.bits) % 8)
        return bytes(int("".join(map(str, bits[i : i + 8])), 2) for i in range(0, len(bits), 8))


class _Cabac:
    """The arithmetic encoder of §9.3.4.2, bit by bit."""

    def __init__(self, out: _Bits) -> None:
        self.out, self.low, self.range, self.first, self.outstanding = out, 0, 510, True, 0

    def _put(self, b: int) -> None:
        if self.first:
            self.first = False
        else:
            self.out.bits.append(b)
        while self.outstanding:
            self.out.bits.append(1 - b)
            self.outstanding -= 1

    def _renorm(self) -> None:
        while self.range < 256:
            if self.low < 256:
                self._put(0)
            elif self.low >= 512:
                self.low -= 512
                self._put(1)
            else:
                self.low -= 256
                self.outstanding += 1
            self.range <<= 1
            self.low <<= 1

    def decision(self, state: int, bit: int) -> int:
        lps = RANGE_LPS[state >> 1][(self.range >> 6) & 3]
        self.range -= lps
        if bit != (state & 1):
            self.low += self.range
            self.range = lps
        self._renorm()
        return _next_state(state, bit)

    def terminate(self, bit: int) -> None:
        self.range -= 2
        if bit:
            self.low += self.range
            self.range = 2
            self._renorm()
            self._put((self.low >> 9) & 1)
            self.out.u(2, ((self.low >> 7) & 3) | 1)  # its last bit is the rbsp_stop_one_bit
        else:
            self._renorm()


def _init_state(m: int, n: int, qp: int) -> int:
    pre = min(max(((m * min(max(qp, 0), 51)) >> 4) + n, 1), 126)
    return (min(pre, 127 - pre) << 1) | (1 if pre >= 64 else 0)


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def u(self, n: int) -> int:
        v = 0
        for _ in range(n):
            byte = self.data[self.pos >> 3]
            v = (v << 1) | ((byte >> (7 - (self.pos & 7))) & 1)
            self.pos += 1
        return v

    def ue(self) -> int:
        zeros = 0
        while self.u(1) == 0:
            zeros += 1
        return (1 << zeros) - 1 + self.u(zeros)

    def se(self) -> int:
        k = self.ue()
        return (k + 1) // 2 if k % 2 else -(k // 2)


def _unescape(nal: bytes) -> bytes:
    return nal.replace(b"\x00\x00\x03", b"\x00\x00")


def _escape(rbsp: bytes) -> bytes:
    out, zeros = bytearray(), 0
    for b in rbsp:
        if zeros >= 2 and b <= 3:
            out.append(3)
            zeros = 0
        out.append(b)
        zeros = zeros + 1 if b == 0 else 0
    return bytes(out)


@dataclass(frozen=True)
class StreamParams:
    """What a slice header needs from the SPS and PPS (only the subset x264 uses)."""

    mbs: int
    log2_max_frame_num: int
    poc_type: int
    log2_max_poc_lsb: int
    frame_mbs_only: bool
    entropy_cabac: bool
    bottom_field_pic_order: bool
    weighted_pred: bool
    pic_init_qp: int
    deblocking_control: bool
    redundant_pic_cnt: bool
    length_size: int


_HIGH_PROFILES = {100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135}


def parse_avcc(extradata: bytes) -> StreamParams:
    length_size = (extradata[4] & 3) + 1
    n_sps = extradata[5] & 31
    pos = 6
    sps = []
    for _ in range(n_sps):
        (ln,) = struct.unpack(">H", extradata[pos : pos + 2])
        sps.append(extradata[pos + 2 : pos + 2 + ln])
        pos += 2 + ln
    n_pps = extradata[pos]
    pos += 1
    (ln,) = struct.unpack(">H", extradata[pos : pos + 2])
    pps = extradata[pos + 2 : pos + 2 + ln]
    if n_sps != 1 or n_pps < 1:
        raise ValueError("expected one SPS and one PPS")
    r = _Reader(_unescape(sps[0][1:]))
    profile = r.u(8)
    r.u(16)
    r.ue()
    if profile in _HIGH_PROFILES:
        if r.ue() == 3:
            r.u(1)
        r.ue(), r.ue(), r.u(1)
        if r.u(1):
            raise ValueError("scaling matrices are not supported")
    log2_fn = r.ue() + 4
    poc_type = r.ue()
    log2_poc = r.ue() + 4 if poc_type == 0 else 0
    if poc_type == 1:
        raise ValueError("POC type 1 is not supported")
    r.ue()  # max_num_ref_frames
    r.u(1)  # gaps allowed
    w_mbs = r.ue() + 1
    h_units = r.ue() + 1
    frame_mbs_only = bool(r.u(1))
    p = _Reader(_unescape(pps[1:]))
    p.ue(), p.ue()
    cabac = bool(p.u(1))
    bottom = bool(p.u(1))
    if p.ue() != 0:
        raise ValueError("slice groups are not supported")
    p.ue(), p.ue()
    weighted = bool(p.u(1))
    p.u(2)
    qp = 26 + p.se()
    p.se(), p.se()
    deblock = bool(p.u(1))
    p.u(1)
    redundant = bool(p.u(1))
    mbs = w_mbs * h_units * (1 if frame_mbs_only else 2)
    return StreamParams(mbs, log2_fn, poc_type, log2_poc, frame_mbs_only, cabac, bottom, weighted, qp, deblock, redundant, length_size)


def _nals(packet: bytes, length_size: int):
    pos = 0
    while pos + length_size <= len(packet):
        ln = int.from_bytes(packet[pos : pos + length_size], "big")
        yield packet[pos + length_size : pos + length_size + ln]
        pos += length_size + ln


def frame_num_of(packet: bytes, params: StreamParams) -> tuple[int, int] | None:
    """(nal_ref_idc, frame_num) of the packet's first slice, or None when it has no slice."""
    for nal in _nals(packet, params.length_size):
        kind, ref_idc = nal[0] & 31, (nal[0] >> 5) & 3
        if kind in (1, 5):
            r = _Reader(_unescape(nal[1:8]))
            r.ue(), r.ue(), r.ue()
            return ref_idc, (0 if kind == 5 else r.u(params.log2_max_frame_num))
    return None


@lru_cache(maxsize=16)
def _skip_slice_data(mbs: int, qp: int) -> bytes:
    """The CABAC-coded slice data of an all-skip P slice; it starts byte-aligned, so one copy serves every frame."""
    bits = _Bits()
    cabac = _Cabac(bits)
    state = _init_state(*SKIP_CTX_MN[0], qp)
    for i in range(mbs):
        state = cabac.decision(state, 1)  # mb_skip_flag = 1
        cabac.terminate(1 if i == mbs - 1 else 0)  # end_of_slice_flag
    return bits.to_bytes()


def skip_frame(params: StreamParams, frame_num: int, poc: int) -> bytes:
    """One all-P_Skip reference picture as a length-prefixed NAL (AVCC)."""
    if not (params.entropy_cabac and params.frame_mbs_only and params.poc_type in (0, 2) and not params.redundant_pic_cnt):
        raise ValueError("stream layout not supported for skip frames")
    h = _Bits()
    h.ue(0)  # first_mb_in_slice
    h.ue(5)  # slice_type: P (all slices)
    h.ue(0)  # pic_parameter_set_id
    h.u(params.log2_max_frame_num, frame_num % (1 << params.log2_max_frame_num))
    if params.poc_type == 0:
        h.u(params.log2_max_poc_lsb, poc % (1 << params.log2_max_poc_lsb))
        if params.bottom_field_pic_order:
            h.se(0)
    h.u(1, 1)  # num_ref_idx_active_override_flag
    h.ue(0)  # one reference
    h.u(1, 0)  # ref_pic_list_modification_flag_l0
    if params.weighted_pred:
        h.ue(0), h.ue(0)  # log2 weight denominators
        h.u(1, 0), h.u(1, 0)  # no explicit weights for the one reference
    h.u(1, 0)  # adaptive_ref_pic_marking_mode_flag: sliding window
    h.ue(0)  # cabac_init_idc
    h.se(0)  # slice_qp_delta: the PPS's QP
    if params.deblocking_control:
        h.ue(1)  # deblocking off (nothing to filter in a copy)
    h.align_ones()  # cabac_alignment_one_bit
    rbsp = h.to_bytes() + _skip_slice_data(params.mbs, params.pic_init_qp)
    nal = bytes([0x41]) + _escape(rbsp)  # nal_ref_idc 2, type 1 (non-IDR slice)
    return len(nal).to_bytes(params.length_size, "big") + nal


def extend_with_held_frames(src: Path, dst: Path, total_frames: int) -> None:
    """Copy ``src`` (an x264 mp4 ending on held frames) to ``dst`` with skip frames up to ``total_frames``."""
    with av.open(str(src)) as inp:
        ist = inp.streams.video[0]
        params = parse_avcc(bytes(ist.codec_context.extradata))
        packets = [p for p in inp.demux(ist) if p.size]
        if params.poc_type == 0 and (1 << params.log2_max_poc_lsb) < 4 * 2:
            raise ValueError("POC range too small")
        ordered = sorted(packets, key=lambda p: p.pts)
        step = min(p2.pts - p1.pts for p1, p2 in zip(ordered, ordered[1:], strict=False))
        first_pts = min(p.pts for p in packets)
        last_ref = None
        for p in packets:
            info = frame_num_of(bytes(p), params)
            if info and info[0]:
                last_ref = info[1]
        if last_ref is None:
            raise ValueError("no reference picture in the segment")
        n = len(packets)
        last_dts = packets[-1].dts
        with av.open(str(dst), "w", format="mp4") as out:
            ost = out.add_stream_from_template(ist)
            for p in packets:
                p.stream = ost
                out.mux(p)
            for k in range(total_frames - n):
                index = n + k
                pkt = av.Packet(skip_frame(params, last_ref + 1 + k, 2 * index))
                pkt.stream = ost
                pkt.time_base = ist.time_base
                pkt.pts = first_pts + index * step
                pkt.dts = last_dts + (k + 1) * step
                pkt.is_keyframe = False
                out.mux(pkt)
