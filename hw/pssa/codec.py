from amaranth import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import Out

from .decoder import PSSADecoder
from .encoder import PSSAEncoder

__all__ = ["PSSACodec"]


class PSSACodec(wiring.Component):
    """The encoder and the decoder side by side, as the EMA's SAS path uses them (write side
    through the encoder, read side through the decoder). They share nothing; one component
    lets one build serve both directions.

    Parameters
    ----------
    config : ProcessorConfig

    Members
    -------
    encoder : ``Out(PSSAEncoder(config).signature)``
        Every port of :class:`PSSAEncoder`, in Verilog ``encoder__<port>``.
    decoder : ``Out(PSSADecoder(config).signature)``
        Every port of :class:`PSSADecoder`, in Verilog ``decoder__<port>``.

    Latency and throughput
    ----------------------
    Those of the encoder (``encoder_latency``, 3) and the decoder (``decoder_latency``, 3);
    ``scores_per_cycle`` = lanes on each side.
    """

    encoder_latency = PSSAEncoder.latency
    decoder_latency = PSSADecoder.latency

    def __init__(self, config):
        self._encoder = PSSAEncoder(config)
        self._decoder = PSSADecoder(config)
        self.layouts = self._encoder.layouts
        self.lanes = config.pssa.lanes
        super().__init__({
            "encoder": Out(self._encoder.signature),
            "decoder": Out(self._decoder.signature),
        })

    @property
    def scores_per_cycle(self):
        return self.lanes

    def elaborate(self, platform):
        m = Module()
        m.submodules.encoder = encoder = self._encoder
        m.submodules.decoder = decoder = self._decoder
        wiring.connect(m, wiring.flipped(self.encoder), encoder)
        wiring.connect(m, wiring.flipped(self.decoder), decoder)
        return m
