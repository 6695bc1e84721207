"""SMPP 3.4: a lean PDU codec, a pipelined asyncio ESME and delivery-receipt correlation."""
