"""The season rehearsal's parts: what the rehearsal knows it cast (`figures.Tally`), one
small reader per page that shows vote figures (`figures`), the organisers', entrants',
voters' and judges' steps in the browser (`steps`) and the crowd that votes through the
voting service beside them (`crowd`)."""
