# Re-plot by hand: gnuplot validation_by_scale_sigmoid4.gp (writes validation_by_scale_sigmoid4.png beside it)
here = ARG0[1:strlen(ARG0) - strlen('validation_by_scale_sigmoid4.gp')]
if (!exists('out')) out = here . 'validation_by_scale_sigmoid4.png'
set terminal pngcairo size 900,560 font ',11'
set output out
set title '4-layer MLP, sigmoid: validation accuracy by initial weight scale'
set xlabel 'weight scale (std of the initial weights)'
set ylabel 'validation accuracy'
set key center left
set grid
set autoscale fix
set offsets graph 0, graph 0, graph 0.05, graph 0.05
set logscale x
set format x '%g'
plot here . 'validation_by_scale_sigmoid4.dat' index 0 using 1:3:4 with filledcurves fs transparent solid 0.18 noborder lc 1 notitle, '' index 0 using 1:2 with lines lw 2 lc 1 title 'none', \
     '' index 1 using 1:3:4 with filledcurves fs transparent solid 0.18 noborder lc 2 notitle, '' index 1 using 1:2 with lines lw 2 lc 2 title 'bn'
