# Re-plot by hand: gnuplot loss_landscape.gp (writes loss_landscape.png beside it)
here = ARG0[1:strlen(ARG0) - strlen('loss_landscape.gp')]
if (!exists('out')) out = here . 'loss_landscape.png'
set terminal pngcairo size 900,560 font ',11'
set output out
set title 'Loss along the gradient: L(w - eta g), eta in {0.25 ... 4} x lr'
set xlabel 'step'
set ylabel 'loss on the probe batch'
set key top right
set grid
set autoscale fix
set offsets graph 0, graph 0, graph 0.05, graph 0.05
plot here . 'loss_landscape.dat' index 0 using 1:3:4 with filledcurves fs transparent solid 0.18 noborder lc 1 notitle, '' index 0 using 1:2 with lines lw 2 lc 1 title 'none', \
     '' index 1 using 1:3:4 with filledcurves fs transparent solid 0.18 noborder lc 2 notitle, '' index 1 using 1:2 with lines lw 2 lc 2 title 'bn'
