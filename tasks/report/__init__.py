"""The analysis report and the flow's publications: figures, text, HTML, outputs."""
