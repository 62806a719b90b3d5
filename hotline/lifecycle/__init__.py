"""Personal data kept only as long as allowed: each organisation's retention
(:mod:`hotline.lifecycle.policy`: what is due, and what a record becomes), the runner that
applies it on the active instance (:mod:`hotline.lifecycle.runner`), and erasure on request
(:mod:`hotline.lifecycle.erasure`)."""
