"""Fuzz the attachment check (JSON or XML through the hardened lxml parser): any bytes are
accepted or refused with an AttachmentError; nothing is fetched and no entity is expanded."""
from fuzzing import fuzz

SEEDS = [b'<attachment claim="C1"><note>15 min call</note></attachment>',
         b'<?xml version="1.0" encoding="UTF-8"?><a><b x="1">t&amp;</b><!-- c --><![CDATA[x]]></a>',
         b'<!DOCTYPE a [<!ENTITY e "expanded">]><a>&e;</a>',
         b'<!DOCTYPE a SYSTEM "file:///etc/passwd"><a/>',
         b'<!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]><l>&b;</l>',
         b'{"claim": "C1", "minutes": [15, 12]}']


def make_target():
    from scrubber.attachments import AttachmentError, check_attachment

    def target(data: bytes) -> None:
        for media_type in ("application/xml", "application/json"):
            try:
                check_attachment(data, media_type)
            except AttachmentError:
                pass
    return target


if __name__ == "__main__":
    fuzz("xml", make_target, SEEDS)
